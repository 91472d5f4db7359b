export * from './prompts';
export * from './demos';
export * from './strategies';
export * from './run';
export * from './offline';

export * from './config';
export * from './advantages';
export * from './kl';
export * from './losses';
export * from './reward-scaling';
export * from './rollout';
export * from './ppo';

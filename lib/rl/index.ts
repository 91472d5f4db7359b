export * from './reward-types';

/**
 * Reward modules: their types, `defineReward`, the registry (names to factories, custom files loaded by path) and
 * the composite that combines named modules. The built-in modules live in the top-level `rewards/` folder.
 */
export type { RewardContext, RewardFailure, RewardInput, RewardModule, RewardScores } from './types';
export { defineReward, type RewardDefinition, type RewardOptions, type RewardSpec } from './define';
export { registerReward, createReward, listRewards, hasReward, loadRewardFiles, type RewardFactory, type RewardSpecifier } from './registry';
export { CompositeReward, expressionName, type CompositeConfig } from './composite';

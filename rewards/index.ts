/**
 * Reward modules: the built-ins (relevance, coherence, factuality, answer-correctness, aspects, length-guard),
 * the registry, custom reward files and the composite.
 */
export { defineReward, type RewardDefinition, type RewardOptions, type RewardSpec } from './define';
export { registerReward, createReward, listRewards, hasReward, loadRewardFiles, type RewardFactory, type RewardSpecifier } from './registry';
export { CompositeReward, expressionName, type CompositeConfig } from './composite';
export type { RewardFailure, RewardScores } from '../lib/rl/reward-types';
export { checkSteps, type StepCheck } from './steps';
export { ASPECTS, aspectPrompt, ratingFromReply } from './aspects';
export { judgePrompt } from './answer-correctness';
export { repeatedNgramShare, repeatedSentenceShare, adjacentFlow } from './coherence';
export { contextSupport } from './factuality';
export type { RewardContext, RewardInput, RewardModule } from '../lib/rl/reward-types';

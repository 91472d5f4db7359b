/**
 * The built-in reward modules (relevance, coherence, factuality, answer-correctness, aspects, length-guard),
 * registered by name when this module loads (the package entry and the CLI load it), with their helpers. The
 * registry, `defineReward` and the composite live in lib/reward and are re-exported here, so a reward file may
 * import everything from `rationale-rl/rewards` (or from `rationale-rl`).
 */
import { registerReward } from '../lib/reward/registry';
import answerCorrectness from './answer-correctness';
import aspects from './aspects';
import coherence from './coherence';
import factuality from './factuality';
import lengthGuard from './length-guard';
import relevance from './relevance';

/** The built-in modules, in the order `rrl rewards` describes them. */
export const BUILTIN_REWARDS = [relevance, coherence, factuality, answerCorrectness, aspects, lengthGuard];
for (const builtin of BUILTIN_REWARDS) registerReward(builtin.name, builtin);

export * from '../lib/reward';
export { checkSteps, type StepCheck } from './steps';
export { ASPECTS, aspectPrompt, ratingFromReply } from './aspects';
export { repeatedNgramShare, repeatedSentenceShare, adjacentFlow } from './coherence';
export { contextSupport } from './factuality';

import { z } from 'zod';

/**
 * The RL trainer's settings: the one definition of every field and default. An experiment's `rl` section is this
 * schema plus what the stage needs around the trainer (prompts, iterations, batch size, checkpoints); the
 * trainer's config type is its output type.
 */
const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

export const rlTrainerShape = {
  algorithm: z.enum(['ppo', 'rloo', 'grpo']).default('ppo'),
  /** Rationales sampled per prompt (k, at least 2 for RLOO/GRPO). */
  samplesPerPrompt: positiveInt.default(1),
  ppoEpochs: positiveInt.default(2),
  minibatchSize: positiveInt.default(8),
  /**
   * Minibatches whose gradients are summed into one optimizer step (TRL's gradient_accumulation_steps): a step sees
   * minibatchSize × gradientAccumulationSteps rationales, computed minibatchSize at a time, and equals one minibatch
   * of that size (every loss term normalised over the whole step).
   */
  gradientAccumulationSteps: positiveInt.default(1),
  learningRate: z.number().positive().default(2e-5),
  /**
   * Learning rate per iteration: `constant`, or `cosine` from learningRate down to minLearningRate over the run's
   * iterations (the experiment's `rl.iterations`); either after `warmupIterations` of linear warmup.
   */
  lrSchedule: z.enum(['constant', 'cosine']).default('constant'),
  warmupIterations: z.number().int().nonnegative().default(0),
  minLearningRate: z.number().nonnegative().default(0),
  /** AdamW's decoupled weight decay. */
  weightDecay: z.number().nonnegative().default(0),
  /** ε of the clipped ratio, 1 − ε below (and above, unless `clipRangeHigh`). */
  clipRange: z.number().positive().default(0.2),
  /** ε_high of DAPO's clip-higher (Yu et al. 2025): ratios clipped to [1 − clipRange, 1 + clipRangeHigh]. */
  clipRangeHigh: z.number().positive().optional(),
  /**
   * How per-token policy losses become one number: `token-mean` (over every response token of the minibatch),
   * `sequence-mean` (each rationale's token mean, then the mean over rationales: GRPO's original), or `constant`
   * (the sum divided by rationales × maxNewTokens: Dr. GRPO, Liu et al. 2025, no length bias).
   */
  lossAggregation: z.enum(['token-mean', 'sequence-mean', 'constant']).default('token-mean'),
  valueClipRange: z.number().positive().default(0.2),
  valueCoef: z.number().nonnegative().default(0.5),
  entropyCoef: z.number().nonnegative().default(0),
  gamma: probability.default(1),
  lambda: probability.default(0.95),
  /**
   * GRPO's divisor of r − mean(group): the group's std (`group`), the whole batch's std (`batch`), or none
   * (`none`, Dr. GRPO), as TRL's `scale_rewards`.
   */
  advantageScaling: z.enum(['group', 'batch', 'none']).default('group'),
  /** Leave rationales cut by `maxNewTokens` (no stop string or EOS) out of the loss (TRL's mask_truncated_completions). */
  maskTruncated: z.boolean().default(false),
  /** Stop the update's epochs after one whose mean approximate KL(π_old‖π) exceeds this (CleanRL's target_kl). */
  targetKL: z.number().positive().optional(),
  /** Whiten PPO advantages over the batch. */
  whitenAdvantages: z.boolean().default(true),
  kl: z.strictObject({
    /** β: fixed, or the adaptive controller's start. A fixed 0 skips the reference model's pass entirely. */
    coef: z.number().nonnegative().default(0.05),
    /** Adaptive controller (Ziegler et al.): target KL per sequence and horizon; omit for a fixed coefficient. */
    target: z.number().positive().optional(),
    horizon: positiveInt.default(10000),
    /** Per-token KL estimate in the PPO/RLOO reward: k1 = log π − log π_ref, k3 = r − 1 − log r with r = π_ref/π. */
    estimator: z.enum(['k1', 'k3']).default('k1'),
  }).prefault({}),
  /** Divide scores by a running standard deviation (`running-std`) before clipping to ±rewardClip. */
  rewardScaling: z.enum(['none', 'running-std']).default('none'),
  rewardClip: z.number().positive().optional(),
  gradClip: z.number().positive().default(1),
  /** Rollout sampling temperature (the update's log-probs use the same). */
  temperature: z.number().positive().default(1),
  /** Sample only among the k most likely tokens (omit for the full vocabulary). */
  topK: positiveInt.optional(),
  /** Sample from the smallest set of tokens whose probability reaches topP (nucleus). */
  topP: z.number().gt(0).max(1).optional(),
  /** Keep only tokens with probability >= minP × the most likely token's (min-p sampling). */
  minP: z.number().min(0).lt(1).optional(),
  maxNewTokens: positiveInt.default(96),
  /** Strings that end a rationale (default the answer marker `-->`). */
  stop: z.array(z.string()).default(['-->']),
};

/** RLOO and GRPO baseline each sample against the other samples of its prompt: they need k >= 2. */
export function checkGroupSize(config: { algorithm: string; samplesPerPrompt: number }, context: z.RefinementCtx): void {
  if (config.algorithm !== 'ppo' && config.samplesPerPrompt < 2) {
    context.addIssue({ code: 'custom', path: ['samplesPerPrompt'], message: `algorithm "${config.algorithm}" needs samplesPerPrompt >= 2, got ${config.samplesPerPrompt}` });
  }
}

/** The trainer's settings, validated (see {@link rlTrainerShape} for each field). */
export const rlTrainerSchema = z.strictObject(rlTrainerShape).superRefine(checkGroupSize);

/** {@link PPOTrainer} settings with every default filled in. */
export type PPOConfig = z.output<typeof rlTrainerSchema>;
/** {@link PPOTrainer} settings as given (any field may be left out). */
export type PPOConfigInput = z.input<typeof rlTrainerSchema>;

/** Validate trainer settings and fill in defaults; bad input throws naming the field (`PPO config: lambda: ...`). */
export function resolvePPOConfig(input: PPOConfigInput = {}): PPOConfig {
  const parsed = rlTrainerSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((issue) => `PPO config: ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n'));
  }
  return parsed.data;
}

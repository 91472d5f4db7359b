/**
 * The PPO trainer (and its critic-free variants RLOO and GRPO) for rationale refinement. A notebook user drives
 * it by hand, `rollout(examples)` -> `score(rollout)` -> `update(scored)`, or calls `step(examples)`; every result
 * is a plain object to inspect.
 *
 * One iteration, for PPO (Ziegler et al. 2019; Stiennon et al. 2020):
 * 1. sample k rationales per prompt, keep per-token log-probs and values under the policy and log-probs under the
 *    frozen reference (the starting policy);
 * 2. score each rationale with the reward modules, scale/clip the scores;
 * 3. per-token rewards r_t = −β·KL_t, plus the score on the last token; GAE advantages, whitened; returns;
 * 4. several epochs of shuffled minibatches minimising the clipped policy loss + c_v · clipped value loss
 *    − c_e · entropy, with gradient clipping and AdamW; β follows the KL controller.
 * RLOO and GRPO replace step 3 with a group baseline over each prompt's k rationales, one advantage for every token
 * of a rationale, and no value loss. RLOO (Ahmadian et al. 2024) baselines the sequence reward score − β·Σ_t KL_t
 * with the other k − 1 samples' mean. GRPO (Shao et al. 2024) normalises the scores alone within the group and adds
 * β·KL(π‖π_ref) to the loss instead (its eq. 3-4): folded into the reward, the KL estimate's noise would be
 * normalised to unit size in every group whose scores are all equal.
 */
import * as tf from '@tensorflow/tfjs';
import type { Example } from '../data/types';
import { asJudge, type Judge } from '../eval/judge';
import type { LLMClient } from '../llm/types';
import type { OptimizerState } from '../model/checkpoint';
import type { StudentModel } from '../model/student';
import { trainableWeights, withAdapterTraining } from '../model/lora';
import { Random } from '../random';
import type { Tokenizer } from '../tokenizer/types';
import { AdamW } from '../train/adamw';
import { globalNormScale } from '../train/clip';
import { warmupCosine } from '../train/schedule';
import { trainingKernels } from '../wasm-threads';
import { rationalePrompt } from '../train/formats';
import { explainedVariance, gae, grpoAdvantages, rlooAdvantages, whiten } from './advantages';
import { AdaptiveKLController, FixedKLController, perTokenKL, shapedRewards, type KLController } from './kl';
import { clippedPolicyLoss, clippedValueLoss, klPenalty, maskedMean } from './losses';
import { RunningMoments, scaleAndClipScores } from './reward-scaling';
import type { RewardContext, RewardInput, RewardModule, RewardScores } from '../reward/types';
import { resolvePPOConfig, type PPOConfig, type PPOConfigInput } from './config';
import { checkFinite, collectRollout, rowTensors, type Rollout } from './rollout';

/** A reward for the trainer: a composite (with components) or any single {@link RewardModule}. */
export type TrainerReward = RewardModule & { scoreAll?: (batch: RewardInput[], context: RewardContext) => Promise<RewardScores> };

/** A rollout with its rewards. */
export interface ScoredRollout extends Rollout {
  /** Raw total reward per row (NaN where invalid). */
  scores: number[];
  components: Record<string, number[]>;
  valid: boolean[];
  failures: { module: string; message: string; samples: number[] }[];
  /** Share of the judge's answers while scoring that were correct; undefined when no reward asked it. */
  judgeAccuracy?: number;
  scoringMs: number;
}

/** Every number logged for one iteration. */
export interface IterationStats {
  iteration: number;
  /** Mean and std of each reward component and of the total, over valid samples. */
  rewards: Record<string, { mean: number; std: number }>;
  /** Share of the judge's answers in this step's scoring that were correct (when a reward asked the judge). */
  judgeAccuracy?: number;
  /**
   * Share of the prompts' groups (k >= 2 samples) whose valid scores are all equal, for the total (`total`) and each
   * reward component: GRPO and RLOO get no signal from a group flat in the total, and a group flat in correctness
   * but not in the total learns from the other components alone.
   */
  flatGroups: Record<string, number>;
  /** Mean per-sequence KL(π_old‖π_ref) of the rollout (k1 summed over tokens), and β used. */
  kl: number;
  klCoef: number;
  /** Learning rate of this iteration's updates. */
  lr: number;
  entropy: number;
  clipFraction: number;
  approxKL: number;
  policyLoss: number;
  valueLoss: number;
  valueClipFraction: number;
  explainedVariance: number;
  gradNorm: number;
  /** Mean response tokens and characters per rationale. */
  rationaleTokens: number;
  rationaleChars: number;
  /** Samples dropped because a reward module could not score them. */
  invalidSamples: number;
  /** Valid samples left out of the loss because the token budget cut them (`maskTruncated`). */
  maskedTruncated: number;
  /** PPO epochs run (fewer than `ppoEpochs` when `targetKL` stopped them). */
  epochsRun: number;
  /** Samples each failing reward module (by name) could not score this iteration, with its first message. */
  rewardFailures: Record<string, { samples: number; message: string }>;
  /** Response tokens sampled per second of sampling. */
  tokensPerSecond: number;
  timings: { samplingMs: number; passesMs: number; scoringMs: number; updateMs: number };
}

/** What {@link PPOTrainer.update} did, with the per-token quantities it used. */
export interface UpdateResult {
  stats: IterationStats;
  /** [B, L − 1] advantages (after whitening / group baselines) and returns, 0 outside responses. */
  advantages: number[][];
  returns: number[][];
  /** Scores after scaling and clipping, per row. */
  scaledScores: number[];
}

/** The trainer's resumable state besides the model weights and optimizer slots (JSON). */
export interface PPOTrainerState {
  iteration: number;
  klCoef: number;
  rewardMoments: { mean: number; variance: number; count: number };
  randomState: number;
}

/** Construction options of {@link PPOTrainer}. */
export interface PPOTrainerOptions {
  /** The policy being trained (its value head is the critic): a decoder-only or a T5 student. */
  policy: StudentModel;
  /**
   * The frozen reference; default a frozen copy of the policy as given, or, when the policy has a LoRA adapter,
   * the policy without it (its base weights: no second copy). Pass the starting checkpoint when resuming a policy
   * trained without an adapter.
   */
  reference?: StudentModel;
  tokenizer: Tokenizer;
  reward: TrainerReward;
  /** The frozen judge handed to reward modules (a plain LLMClient is asked with the default judge settings). */
  judge?: LLMClient;
  /** Trainer settings; defaults and validation from the experiment schema's `rl` section ({@link resolvePPOConfig}). */
  config?: PPOConfigInput;
  seed?: number;
  /** The student's prompt for an example (default the Fine-tune-CoT prompt `question ###`). */
  promptOf?: (example: Example) => string;
  /** Iterations the run will take: where a `cosine` learning-rate schedule reaches its minimum. */
  totalIterations?: number;
}

function meanStd(values: number[]): { mean: number; std: number } {
  if (values.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, std: Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length) };
}

/** Share of groups of `k` consecutive rows whose valid values are all equal (groups with under 2 valid rows skipped); NaN for k < 2. */
export function flatGroupShare(values: number[], valid: boolean[], k: number): number {
  let flat = 0;
  let groups = 0;
  for (let g = 0; g + k <= values.length; g += k) {
    const members = values.slice(g, g + k).filter((_, i) => valid[g + i]);
    if (members.length < 2) continue;
    groups++;
    if (members.every((v) => v === members[0])) flat++;
  }
  return groups === 0 ? Number.NaN : flat / groups;
}

/**
 * Refines a policy's rationales with PPO, RLOO or GRPO against a reward and a frozen reference; see the module
 * comment for one iteration's steps. Drive it with {@link PPOTrainer.step}, or stage by stage.
 */
export class PPOTrainer {
  readonly policy: StudentModel;
  readonly reference: StudentModel;
  readonly tokenizer: Tokenizer;
  readonly config: PPOConfig;
  readonly optimizer: AdamW;
  readonly klController: KLController;
  iteration = 0;
  private readonly reward: TrainerReward;
  private readonly judge?: Judge;
  private readonly promptOf: (example: Example) => string;
  private readonly rewardMoments = new RunningMoments();
  private readonly ownsReference: boolean;
  private readonly trainable: Record<string, tf.Variable>;
  private readonly nameOfVariable: Map<string, string>;
  private random: Random;
  private readonly totalIterations: number;

  constructor(options: PPOTrainerOptions) {
    this.config = resolvePPOConfig(options.config);
    if (this.config.lrSchedule === 'cosine' && options.totalIterations === undefined) throw new Error('PPO config: lrSchedule "cosine" needs the trainer option totalIterations');
    this.totalIterations = options.totalIterations ?? 1;
    this.policy = options.policy;
    this.ownsReference = options.reference === undefined;
    this.reference = options.reference ?? (options.policy.adapter ? options.policy.withoutAdapter() : options.policy.clone());
    this.tokenizer = options.tokenizer;
    this.reward = options.reward;
    this.judge = options.judge && asJudge(options.judge);
    this.promptOf = options.promptOf ?? ((example) => rationalePrompt(example, 'fine-tune-cot'));
    this.random = new Random(options.seed ?? 0);
    const { kl } = this.config;
    this.klController = kl.target === undefined ? new FixedKLController(kl.coef) : new AdaptiveKLController(kl.coef, kl.target, kl.horizon);
    // The critic's head trains only under PPO; RLOO and GRPO have no value loss. With LoRA, the adapter's weights
    // (and the value head) train and the base stays frozen.
    const lm = trainableWeights(this.policy);
    this.trainable = this.config.algorithm === 'ppo' ? { ...lm, ...this.policy.valueHeadWeights } : { ...lm };
    this.nameOfVariable = new Map(Object.entries(this.trainable).map(([name, v]) => [v.name, name]));
    this.optimizer = new AdamW(this.trainable, { weightDecay: this.config.weightDecay });
  }

  /** Sample `samplesPerPrompt` rationales per example and score their tokens under policy and reference. */
  rollout(examples: Example[]): Promise<Rollout> {
    const c = this.config;
    return collectRollout(this.policy, this.reference, this.tokenizer, examples, c.samplesPerPrompt, this.promptOf, {
      maxNewTokens: c.maxNewTokens, temperature: c.temperature, topK: c.topK, topP: c.topP, minP: c.minP, stop: c.stop,
      seed: this.random.int(2 ** 31), chunkSize: c.minibatchSize, withValues: c.algorithm === 'ppo',
      withReference: !(c.kl.coef === 0 && c.kl.target === undefined),
    });
  }

  /** Score every rationale with the reward (components kept when it is a composite). */
  async score(rollout: Rollout): Promise<ScoredRollout> {
    const started = performance.now();
    const batch = rollout.examples.map((example, i) => ({ example, rationale: rollout.rationales[i] }));
    const context: RewardContext = { judge: this.judge };
    const before = this.judge && { ...this.judge.tally };
    let result: RewardScores;
    if (this.reward.scoreAll) {
      result = await this.reward.scoreAll(batch, context);
    } else {
      const total = await this.reward.score(batch, context);
      const bad = total.findIndex((s) => !Number.isFinite(s));
      if (total.length !== batch.length) throw new Error(`reward "${this.reward.name}" returned ${total.length} scores for ${batch.length} samples`);
      if (bad >= 0) throw new Error(`reward "${this.reward.name}" gave ${total[bad]} for sample ${bad}`);
      result = { total, components: { [this.reward.name]: total }, valid: total.map(() => true), failures: [] };
    }
    const answered = this.judge && before ? this.judge.tally.answered - before.answered : 0;
    const judgeAccuracy = answered > 0 ? (this.judge!.tally.correct - before!.correct) / answered : undefined;
    return { ...rollout, scores: result.total, components: result.components, valid: result.valid, failures: result.failures, judgeAccuracy, scoringMs: performance.now() - started };
  }

  /** The learning rate of the current iteration: linear warmup, then constant or cosine (`warmupCosine`). */
  learningRate(): number {
    const c = this.config;
    if (this.iteration < c.warmupIterations) return (c.learningRate * (this.iteration + 1)) / c.warmupIterations;
    if (c.lrSchedule === 'constant') return c.learningRate;
    return warmupCosine(this.iteration, { peakLr: c.learningRate, warmupSteps: c.warmupIterations, totalSteps: this.totalIterations, minLr: c.minLearningRate });
  }

  /** Advantages, then `ppoEpochs` epochs of minibatch updates; moves β; returns the iteration's statistics. */
  async update(scored: ScoredRollout): Promise<UpdateResult> {
    const started = performance.now();
    const c = this.config;
    const rows = scored.rationales.length;
    // Invalid samples keep their place (groups stay aligned) but get no tokens in the loss; so do rationales cut
    // by the token budget when maskTruncated is set (their scores still count in the group statistics).
    const inLoss = scored.valid.map((v, b) => v && !(c.maskTruncated && scored.finishReasons[b] === 'length'));
    const mask = scored.responseMask.map((row, b) => (inLoss[b] ? row : row.map(() => 0)));
    const validRows = scored.valid.flatMap((v, b) => (v ? [b] : []));
    const lossRows = inLoss.flatMap((v, b) => (v ? [b] : []));
    if (validRows.length === 0) throw new Error('PPO update: no valid samples in this batch (every one failed a reward module)');
    const beta = this.klController.value;
    const kl = perTokenKL(scored.logprobs, scored.refLogprobs, mask, c.kl.estimator);
    const sequenceKL = kl.map((row) => row.reduce((a, b) => a + b, 0));
    const validScores = validRows.map((b) => scored.scores[b]);
    const scaled = scaleAndClipScores(validScores, c.rewardScaling, this.rewardMoments, c.rewardClip);
    const scaledScores = scored.scores.map(() => 0);
    validRows.forEach((b, i) => (scaledScores[b] = scaled[i]));

    let advantages: number[][];
    let returns: number[][];
    if (c.algorithm === 'ppo') {
      const rewards = shapedRewards(scaledScores, kl, scored.responseMask, beta).map((row, b) => (scored.valid[b] ? row : row.map(() => 0)));
      ({ advantages, returns } = gae(rewards, scored.values, mask, c.gamma, c.lambda));
      if (c.whitenAdvantages) advantages = whiten(advantages, mask);
    } else {
      // RLOO folds the KL penalty into the sequence reward (GRPO puts it in the loss); an invalid sample takes its
      // group's valid mean so the baseline of the others is not moved by it.
      const sequenceReward = c.algorithm === 'rloo' ? scaledScores.map((s, b) => s - beta * sequenceKL[b]) : [...scaledScores];
      const k = scored.groupSize;
      for (let g = 0; g < rows; g += k) {
        const members = Array.from({ length: k }, (_, i) => g + i);
        const ok = members.filter((b) => scored.valid[b]);
        const fill = ok.length ? ok.reduce((a, b) => a + sequenceReward[b], 0) / ok.length : 0;
        for (const b of members) if (!scored.valid[b]) sequenceReward[b] = fill;
      }
      const perSequence = c.algorithm === 'rloo' ? rlooAdvantages(sequenceReward, k) : grpoAdvantages(sequenceReward, k, 1e-6, c.advantageScaling);
      advantages = mask.map((row, b) => row.map((m) => (m ? perSequence[b] : 0)));
      returns = mask.map((row) => row.map(() => 0));
    }
    checkFinite('PPO update: advantage', advantages);
    checkFinite('PPO update: return', returns);

    const lr = this.learningRate();
    const totals = { policyLoss: 0, valueLoss: 0, entropy: 0, clipFraction: 0, approxKL: 0, valueClipFraction: 0, gradNorm: 0 };
    let minibatches = 0;
    let epochsRun = 0;
    for (let epoch = 0; epoch < c.ppoEpochs; epoch++) {
      const order = this.random.shuffle(lossRows);
      let epochKL = 0;
      let epochMinibatches = 0;
      const stepRows = c.minibatchSize * c.gradientAccumulationSteps;
      for (let start = 0; start < order.length; start += stepRows) {
        const picked = order.slice(start, start + stepRows);
        const stats = trainingKernels(() => this.optimizerStep(scored, picked, mask, advantages, returns, beta, lr, `epoch ${epoch}, minibatch ${start / c.minibatchSize}`));
        for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += stats[key];
        epochKL += stats.approxKL;
        epochMinibatches++;
        minibatches++;
      }
      epochsRun++;
      // CleanRL's early stop: the policy moved too far from the one that sampled the batch
      if (c.targetKL !== undefined && epochMinibatches > 0 && epochKL / epochMinibatches > c.targetKL) break;
    }
    if (minibatches === 0) throw new Error('PPO update: every sample was left out of the loss (invalid or truncated with maskTruncated)');
    this.klController.update(meanStd(validRows.map((b) => sequenceKL[b])).mean, validRows.length);
    this.iteration++;

    const rewardStats: Record<string, { mean: number; std: number }> = {};
    for (const [name, values] of Object.entries(scored.components)) rewardStats[name] = meanStd(validRows.map((b) => values[b]));
    rewardStats.total = meanStd(validScores);
    const flatGroups = Object.fromEntries(Object.entries({ ...scored.components, total: scored.scores })
      .map(([name, values]) => [name, flatGroupShare(values, scored.valid, scored.groupSize)]));
    const responseTokens = scored.responseLengths.reduce((a, b) => a + b, 0);
    const average = (x: number) => x / minibatches;
    const stats: IterationStats = {
      iteration: this.iteration,
      rewards: rewardStats,
      ...(scored.judgeAccuracy === undefined ? {} : { judgeAccuracy: scored.judgeAccuracy }),
      flatGroups,
      kl: meanStd(validRows.map((b) => sequenceKL[b])).mean,
      klCoef: beta,
      lr,
      entropy: average(totals.entropy),
      clipFraction: average(totals.clipFraction),
      approxKL: average(totals.approxKL),
      policyLoss: average(totals.policyLoss),
      valueLoss: average(totals.valueLoss),
      valueClipFraction: average(totals.valueClipFraction),
      explainedVariance: c.algorithm === 'ppo' ? explainedVariance(scored.values, returns, mask) : Number.NaN,
      gradNorm: average(totals.gradNorm),
      rationaleTokens: meanStd(validRows.map((b) => scored.responseLengths[b])).mean,
      rationaleChars: meanStd(validRows.map((b) => scored.rationales[b].length)).mean,
      invalidSamples: rows - validRows.length,
      maskedTruncated: validRows.length - lossRows.length,
      epochsRun,
      rewardFailures: Object.fromEntries(scored.failures.map((f) => [f.module, { samples: f.samples.length, message: f.message }])),
      tokensPerSecond: responseTokens / (scored.timings.samplingMs / 1000),
      timings: { ...scored.timings, scoringMs: scored.scoringMs, updateMs: performance.now() - started },
    };
    return { stats, advantages, returns, scaledScores };
  }

  /** rollout -> score -> update on one batch of examples. */
  async step(examples: Example[]): Promise<UpdateResult> {
    return this.update(await this.score(await this.rollout(examples)));
  }

  /**
   * One optimizer step on the rows `picked`, their gradients computed `minibatchSize` rows at a time and summed; each
   * part's loss terms are weighted so the sum is the loss of all `picked` rows at once (its share of the step's
   * response tokens for token means, of its rationales for `sequence-mean`/`constant`). Throws naming the quantity
   * when anything is NaN/Inf (no update then).
   */
  private optimizerStep(scored: ScoredRollout, picked: number[], mask: number[][], advantages: number[][], returns: number[][], beta: number, lr: number, where: string) {
    const c = this.config;
    const tokensOf = (rows: number[]) => rows.reduce((n, b) => n + mask[b].reduce((a, m) => a + m, 0), 0);
    const stepTokens = tokensOf(picked);
    const summed: Record<string, tf.Tensor> = {};
    const numbers: Record<string, number> = { loss: 0, policyLoss: 0, valueLoss: 0, entropy: 0, clipFraction: 0, approxKL: 0, valueClipFraction: 0 };
    try {
      for (let start = 0; start < picked.length; start += c.minibatchSize) {
        const part = picked.slice(start, start + c.minibatchSize);
        const weights = {
          token: part.length === picked.length ? 1 : tokensOf(part) / Math.max(stepTokens, 1),
          row: part.length / picked.length,
        };
        const { grads, parts } = this.partGradients(scored, part, mask, advantages, returns, beta, weights);
        for (const [name, value] of Object.entries(parts)) numbers[name] += value;
        for (const [variable, g] of Object.entries(grads)) {
          const previous = summed[variable];
          summed[variable] = previous ? tf.add(previous, g) : g;
          if (previous) tf.dispose([previous, g]);
        }
      }
      const byName = Object.fromEntries(Object.entries(summed).map(([variable, g]) => [this.nameOfVariable.get(variable)!, g]));
      const { norm, scale } = globalNormScale(byName, c.gradClip);
      const gradNorm = norm.dataSync()[0];
      try {
        const bad = Object.entries({ ...numbers, gradNorm }).find(([, v]) => !Number.isFinite(v));
        if (bad) throw new Error(`PPO update (${where}): ${bad[0]} is ${bad[1]}; no update applied`);
        this.optimizer.apply(byName, lr, scale);
      } finally {
        tf.dispose([norm, scale]);
      }
      return {
        policyLoss: numbers.policyLoss, valueLoss: numbers.valueLoss, entropy: numbers.entropy, clipFraction: numbers.clipFraction,
        approxKL: numbers.approxKL, valueClipFraction: numbers.valueClipFraction, gradNorm,
      };
    } finally {
      tf.dispose(Object.values(summed));
    }
  }

  /**
   * Gradients of one part of an optimizer step (rows `picked`) with its loss terms weighted by `weights.token`
   * (token means: entropy, GRPO's KL, value loss, the policy loss under `token-mean`) or `weights.row` (the policy
   * loss under `sequence-mean`/`constant`); the weighted diagnostics as numbers.
   */
  private partGradients(scored: ScoredRollout, picked: number[], mask: number[][], advantages: number[][], returns: number[][], beta: number, weights: { token: number; row: number }) {
    const c = this.config;
    const take = (rows: number[][]) => picked.map((b) => rows[b]);
    // Drop the columns no picked row uses (right padding) to save compute.
    const width = Math.max(...picked.map((b) => scored.attentionMask[b].lastIndexOf(1) + 1));
    const cut = (rows: number[][], w: number) => rows.map((row) => row.slice(0, w));
    const policyWeight = c.lossAggregation === 'token-mean' ? weights.token : weights.row;
    // A weight of exactly 1 (no accumulation) leaves the graph, and so the float rounding, as without it.
    const weighted = (w: number, t: tf.Scalar) => (w === 1 ? t : tf.mul(w, t) as tf.Scalar);
    const { value: loss, grads, parts } = tf.tidy(() => {
      const rows = rowTensors(scored, picked, width);
      const tokenMask = tf.tensor2d(cut(take(mask), width - 1));
      const oldLogprobs = tf.tensor2d(cut(take(scored.logprobs), width - 1));
      const advantage = tf.tensor2d(cut(take(advantages), width - 1));
      const target = tf.tensor2d(cut(take(returns), width - 1));
      const oldValues = tf.tensor2d(cut(take(scored.values), width - 1));
      const parts: Record<string, tf.Scalar> = {};
      const result = withAdapterTraining(this.policy, () => tf.variableGrads(() => {
        const { logprobs: logp, entropy: entropies, hidden } = this.policy.scoreRows(rows, { temperature: c.temperature, entropy: true });
        const policy = clippedPolicyLoss(logp, oldLogprobs, advantage, tokenMask, c.clipRange,
          { clipRangeHigh: c.clipRangeHigh, aggregation: c.lossAggregation, maxTokens: c.maxNewTokens });
        const policyLoss = weighted(policyWeight, policy.loss);
        const entropy = weighted(weights.token, maskedMean(entropies!, tokenMask));
        let total = tf.sub(policyLoss, tf.mul(c.entropyCoef, entropy));
        parts.policyLoss = tf.keep(policyLoss);
        parts.clipFraction = tf.keep(weighted(weights.token, policy.clipFraction));
        parts.approxKL = tf.keep(weighted(weights.token, policy.approxKL));
        parts.entropy = tf.keep(entropy);
        if (c.algorithm === 'grpo' && beta > 0) {
          const refLogprobs = tf.tensor2d(cut(take(scored.refLogprobs), width - 1));
          total = tf.add(total, tf.mul(beta, weighted(weights.token, klPenalty(logp, refLogprobs, tokenMask))));
        }
        if (c.algorithm === 'ppo') {
          const values = this.policy.value(hidden);
          const value = clippedValueLoss(values, oldValues, target, tokenMask, c.valueClipRange);
          const valueLoss = weighted(weights.token, value.loss);
          total = tf.add(total, tf.mul(c.valueCoef, valueLoss));
          parts.valueLoss = tf.keep(valueLoss);
          parts.valueClipFraction = tf.keep(weighted(weights.token, value.clipFraction));
        }
        return total as tf.Scalar;
      }, Object.values(this.trainable)));
      return { ...result, parts };
    });
    const numbers = Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, t.dataSync()[0]]));
    numbers.loss = loss.dataSync()[0];
    tf.dispose([loss, ...Object.values(parts)]);
    return { grads, parts: numbers };
  }

  /** The trainer's state for a checkpoint (JSON); the optimizer's slots come from `trainer.optimizer.getState()`. */
  state(): PPOTrainerState {
    return { iteration: this.iteration, klCoef: this.klController.value, rewardMoments: this.rewardMoments.state(), randomState: this.random.getState() };
  }

  /** Restore a {@link state} (and optionally the optimizer's slots), e.g. from a checkpoint's `extra`. */
  loadState(state: PPOTrainerState, optimizerState?: OptimizerState, where = 'PPO trainer state'): void {
    for (const field of ['iteration', 'klCoef', 'randomState'] as const) {
      if (typeof state?.[field] !== 'number') throw new Error(`${where}: field "${field}" must be a number`);
    }
    this.iteration = state.iteration;
    this.klController.loadState({ value: state.klCoef });
    this.rewardMoments.loadState(state.rewardMoments);
    this.random = Random.fromState(state.randomState);
    if (optimizerState) this.optimizer.setState(optimizerState, where);
  }

  /** Free the optimizer's slots and the reference copy made here (the policy stays the caller's). */
  dispose(): void {
    this.optimizer.dispose();
    if (this.ownsReference) this.reference.dispose();
  }
}

/**
 * One optimisation step of a causal LM on a batch of token rows: split into micro-batches, sum their gradients
 * weighted by target-token count (so the result is the full batch's gradient), clip by global norm, and apply
 * AdamW at the scheduled learning rate.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../model/causal-lm';
import type { OptimizerState } from '../model/checkpoint';
import { scoreNextTokens } from '../model/logprobs';
import { trainableWeights } from '../model/lora';
import { AdamW, type AdamWOptions } from './adamw';
import { padBatch, type DistillTrainer } from './distill';
import type { EncodedText } from './formats';
import { maskedNegativeLogLikelihood } from './loss';
import { type WarmupCosineOptions } from './schedule';
import { microBatchStep, type MicroBatch } from './step';

/** Settings of a {@link Trainer}. */
export interface TrainerOptions extends AdamWOptions {
  schedule: WarmupCosineOptions;
  /** Clip the global gradient norm to this (default 1; Infinity turns clipping off). */
  maxGradNorm?: number;
  /** Rows per forward/backward pass (default: the whole batch); smaller saves memory, same gradient. */
  microBatchSize?: number;
}

/**
 * A training batch of equal-length rows. `targetMask[b][t]` is 1 where token t is a loss target (predicted from
 * tokens before it), e.g. the rationale and answer but not the question; fractional values weight tokens.
 * `attentionMask` marks padding (default all real tokens).
 */
export interface TrainBatch {
  ids: number[][];
  targetMask: number[][];
  attentionMask?: number[][];
}

/** What one {@link Trainer.step} did. */
export interface StepResult {
  /** Mean masked cross-entropy of the batch before the update. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate used. */
  lr: number;
}

function checkBatch(batch: TrainBatch): void {
  const width = batch.ids[0]?.length ?? 0;
  if (batch.ids.length === 0 || width < 2) throw new Error('Trainer.step: batch "ids" needs at least one row of 2 or more tokens');
  for (const field of ['ids', 'targetMask', 'attentionMask'] as const) {
    const rows = batch[field];
    if (!rows) continue;
    if (rows.length !== batch.ids.length) throw new Error(`Trainer.step: batch "${field}" has ${rows.length} rows, "ids" has ${batch.ids.length}`);
    const bad = rows.findIndex((row) => row.length !== width);
    if (bad >= 0) throw new Error(`Trainer.step: batch "${field}" row ${bad} has ${rows[bad].length} entries, expected ${width}`);
  }
}

/** Sum of targetMask over the positions that are predicted (t >= 1). */
function targetCount(targetMask: number[][]): number {
  return targetMask.reduce((n, row) => n + row.slice(1).reduce((a, b) => a + b, 0), 0);
}

/**
 * Trains a model's weights, or only its adapter's when one is attached (LoRA: the base weights get no
 * gradient and no optimizer state).
 */
export class Trainer implements DistillTrainer<EncodedText> {
  readonly optimizer: AdamW;
  private readonly trainable: Record<string, tf.Variable>;
  private readonly variableNames: Map<string, string>;

  constructor(readonly model: CausalLM, readonly options: TrainerOptions) {
    this.trainable = trainableWeights(model);
    this.optimizer = new AdamW(this.trainable, options);
    this.variableNames = new Map(Object.entries(this.trainable).map(([name, v]) => [v.name, name]));
  }

  /** Updates done so far (the schedule's position). */
  get stepsDone(): number {
    return this.optimizer.step;
  }

  /** Mean masked cross-entropy of rows [B, T] without updating anything (a scalar the caller disposes). */
  loss(ids: tf.Tensor2D, targetMask: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const [batch, length] = ids.shape;
      const { logprobs } = scoreNextTokens(this.model, ids, { attentionMask });
      return maskedNegativeLogLikelihood(logprobs, tf.slice(targetMask, [0, 1], [batch, length - 1]));
    });
  }

  /** One update on `batch`; see {@link TrainBatch}. */
  async step(batch: TrainBatch): Promise<StepResult> {
    checkBatch(batch);
    const total = targetCount(batch.targetMask);
    if (total <= 0) throw new Error('Trainer.step: batch "targetMask" selects no target token');
    const size = this.options.microBatchSize ?? batch.ids.length;
    const microBatches: MicroBatch[] = [];
    for (let start = 0; start < batch.ids.length; start += size) {
      const rows = (m: number[][]) => m.slice(start, start + size);
      microBatches.push({
        share: targetCount(rows(batch.targetMask)) / total,
        loss: () => {
          const ids = tf.tensor2d(rows(batch.ids), undefined, 'int32');
          const attentionMask = batch.attentionMask && tf.tensor2d(rows(batch.attentionMask), undefined, 'int32');
          return this.loss(ids, tf.tensor2d(rows(batch.targetMask)), attentionMask);
        },
      });
    }
    return microBatchStep(this.model, this.trainable, this.variableNames, this.optimizer, this.options, microBatches);
  }

  /** One update on rows of {@link encodeTrainingText}, right-padded with `padId` into one batch. */
  stepRows(rows: EncodedText[], padId: number): Promise<StepResult> {
    return this.step(padBatch(rows, padId));
  }

  /** Restores the optimizer (and so the schedule position) from a checkpoint's optimizer state. */
  restore(state: OptimizerState, where?: string): void {
    this.optimizer.setState(state, where);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

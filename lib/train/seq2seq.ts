/**
 * Distillation for encoder-decoder students (T5): each training text's prompt is the source the encoder reads and
 * its target what the decoder writes, so the formats of ./formats (fine-tune-cot, mt-cot, mt-re) carry over as
 * source -> target pairs. One {@link Seq2SeqTrainer.step} is an AdamW update on a batch of such pairs, with the
 * same micro-batching, weighting, clipping and schedule as the causal {@link Trainer}.
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerState } from '../model/checkpoint';
import { trainableWeights } from '../model/lora';
import type { T5Model } from '../model/t5';
import { t5TargetLogProbs } from '../model/t5-logprobs';
import type { Tokenizer } from '../tokenizer/types';
import { AdamW } from './adamw';
import type { DistillTrainer } from './distill';
import type { TrainingText } from './formats';
import { microBatchStep, type MicroBatch } from './step';
import type { StepResult, TrainerOptions } from './trainer';

/** One training pair as token ids: the source (with EOS, as T5 reads it) and the target (with EOS). */
export interface Seq2SeqExample {
  source: number[];
  target: number[];
  /** The task's loss weight, on every target token. */
  weight: number;
  /** True when the source or the target was cut to `maxLength`. */
  truncated: boolean;
}

/**
 * Tokenizes a training text as a source -> target pair: `prompt EOS` -> `target EOS`. A source longer than
 * `maxLength` loses its start (the task marker at its end is kept, as in the causal layout); a target loses its end.
 */
export function encodeSeq2SeqText(tokenizer: Tokenizer, text: TrainingText, maxLength: number): Seq2SeqExample {
  const source = tokenizer.encode(text.prompt, { addEos: true });
  const target = tokenizer.encode(text.target.trim(), { addEos: true });
  return {
    source: source.length > maxLength ? source.slice(source.length - maxLength) : source,
    target: target.slice(0, maxLength),
    weight: text.weight,
    truncated: source.length > maxLength || target.length > maxLength,
  };
}

/** A batch of pairs, right-padded with `padId`: the source mask marks real source tokens, `targetWeights` the loss. */
export interface Seq2SeqBatch {
  sources: number[][];
  sourceMask: number[][];
  targets: number[][];
  targetWeights: number[][];
}

/** Pads a list of pairs into a {@link Seq2SeqBatch}. */
export function seq2seqBatch(examples: Seq2SeqExample[], padId: number): Seq2SeqBatch {
  const width = (rows: number[][]) => Math.max(...rows.map((r) => r.length));
  const pad = (row: number[], to: number, value: number) => [...row, ...new Array<number>(to - row.length).fill(value)];
  const sourceWidth = width(examples.map((e) => e.source));
  const targetWidth = width(examples.map((e) => e.target));
  return {
    sources: examples.map((e) => pad(e.source, sourceWidth, padId)),
    sourceMask: examples.map((e) => pad(e.source.map(() => 1), sourceWidth, 0)),
    targets: examples.map((e) => pad(e.target, targetWidth, padId)),
    targetWeights: examples.map((e) => pad(e.target.map(() => e.weight), targetWidth, 0)),
  };
}

const sum = (rows: number[][]) => rows.reduce((n, row) => n + row.reduce((a, b) => a + b, 0), 0);

/** Trains a T5 model's weights, or only its adapter's when one is attached (LoRA), like the causal Trainer. */
export class Seq2SeqTrainer implements DistillTrainer<Seq2SeqExample> {
  readonly optimizer: AdamW;
  private readonly trainable: Record<string, tf.Variable>;
  private readonly variableNames: Map<string, string>;

  constructor(readonly model: T5Model, readonly options: TrainerOptions) {
    this.trainable = trainableWeights(model);
    this.optimizer = new AdamW(this.trainable, options);
    this.variableNames = new Map(Object.entries(this.trainable).map(([name, v]) => [v.name, name]));
  }

  /** Weighted mean negative log-likelihood of the targets, -sum(w log p) / sum(w) (a scalar the caller disposes). */
  loss(batch: Seq2SeqBatch): tf.Scalar {
    return tf.tidy(() => {
      const weights = tf.tensor2d(batch.targetWeights);
      const logProbs = t5TargetLogProbs(this.model, tf.tensor2d(batch.sources, undefined, 'int32'), tf.tensor2d(batch.sourceMask, undefined, 'int32'), tf.tensor2d(batch.targets, undefined, 'int32'));
      return tf.div(tf.neg(tf.sum(tf.mul(logProbs, weights))), tf.maximum(tf.sum(weights), 1e-9)) as tf.Scalar;
    });
  }

  /** One update on `batch`: micro-batch gradients summed by their share of the target weight, clipped, AdamW. */
  async step(batch: Seq2SeqBatch): Promise<StepResult> {
    const total = sum(batch.targetWeights);
    if (!(total > 0)) throw new Error('Seq2SeqTrainer.step: batch "targetWeights" selects no target token');
    const size = this.options.microBatchSize ?? batch.sources.length;
    const microBatches: MicroBatch[] = [];
    for (let start = 0; start < batch.sources.length; start += size) {
      const rows = (m: number[][]) => m.slice(start, start + size);
      const part = { sources: rows(batch.sources), sourceMask: rows(batch.sourceMask), targets: rows(batch.targets), targetWeights: rows(batch.targetWeights) };
      microBatches.push({ share: sum(part.targetWeights) / total, loss: () => this.loss(part) });
    }
    return microBatchStep(this.model, this.trainable, this.variableNames, this.optimizer, this.options, microBatches);
  }

  /** One update on a list of pairs, right-padded with `padId` into one batch. */
  stepRows(rows: Seq2SeqExample[], padId: number): Promise<StepResult> {
    return this.step(seq2seqBatch(rows, padId));
  }

  /** Restores the optimizer (and so the schedule position) from a checkpoint's optimizer state. */
  restore(state: OptimizerState, where?: string): void {
    this.optimizer.setState(state, where);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

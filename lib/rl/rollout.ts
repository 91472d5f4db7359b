/**
 * Rollouts: sample rationales from the policy for a batch of prompts, then score every sampled token under the
 * policy (log-prob, value) and under the frozen reference (log-prob) with full forward passes, so that the first
 * PPO epoch starts from ratio exactly 1.
 */
import * as tf from '@tensorflow/tfjs';
import type { Example } from '../data/types';
import type { ScoringRows, ScoringTensors, StudentModel } from '../model/student';
import type { Tokenizer } from '../tokenizer/types';
import { trainingKernels } from '../wasm-threads';

/** A batch of sampled rationales with everything the update needs, as host arrays. */
export interface Rollout {
  /** One entry per sampled row: each example repeated `groupSize` times, consecutively. */
  examples: Example[];
  groupSize: number;
  prompts: string[];
  rationales: string[];
  finishReasons: ('stop' | 'eos' | 'length')[];
  /** [B, L] right-padded rows: BOS, prompt tokens, response tokens (T5: the decoder start id, response tokens). */
  ids: number[][];
  /** [B, L] 1 for real tokens. */
  attentionMask: number[][];
  /** [B, L − 1]: entry t is about predicting ids[t + 1]; 1 where that token is a response token. */
  responseMask: number[][];
  /** Encoder-decoder students: the prompt rows the encoder reads (see {@link ScoringRows}). */
  source?: ScoringRows['source'];
  /** [B, L − 1] log π_old of each next token (temperature applied). */
  logprobs: number[][];
  /** [B, L − 1] log π_ref of each next token. */
  refLogprobs: number[][];
  /** [B, L − 1] the critic's value of the state before each next token. */
  values: number[][];
  /** Response tokens per row. */
  responseLengths: number[];
  timings: { samplingMs: number; passesMs: number };
}

/** Sampling settings of a rollout. */
export interface RolloutOptions {
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** Strings that end a rationale (the token completing one is the last response token). */
  stop: string[];
  seed: number;
  /** Rows per forward pass when scoring tokens. */
  chunkSize: number;
  /** Compute values (false for critic-free algorithms). */
  withValues: boolean;
  /** Score tokens under the reference (false when β is a fixed 0: refLogprobs are then the policy's, KL 0). */
  withReference?: boolean;
}

/** Per-token log-probs [B, L − 1] and values [B, L − 1] of scoring rows under a model (one pass, no gradient). */
export function tokenPass(model: StudentModel, rows: ScoringTensors, temperature: number, withValues: boolean): { logprobs: tf.Tensor2D; values?: tf.Tensor2D } {
  return tf.tidy(() => {
    const { logprobs, hidden } = model.scoreRows(rows, { temperature });
    if (!withValues) return { logprobs };
    return { logprobs, values: model.value(hidden) };
  });
}

/**
 * Rows `picked` of scoring rows as tensors, `ids` and `attentionMask` cut to `width` columns when given (right
 * padding no picked row uses); the source rows are cut to the widest picked source.
 */
export function rowTensors(rows: Pick<ScoringRows, 'ids' | 'attentionMask' | 'source'>, picked: number[], width?: number): ScoringTensors {
  const table = (values: number[][], columns?: number) => tf.tensor2d(picked.map((b) => values[b].slice(0, columns)), undefined, 'int32');
  const source = rows.source;
  const sourceWidth = source && Math.max(...picked.map((b) => source.mask[b].lastIndexOf(1) + 1));
  return {
    ids: table(rows.ids, width), attentionMask: table(rows.attentionMask, width),
    ...(source ? { source: { ids: table(source.ids, sourceWidth), mask: table(source.mask, sourceWidth) } } : {}),
  };
}

function firstNonFinite(rows: number[][]): [number, number] | undefined {
  for (let b = 0; b < rows.length; b++) {
    const t = rows[b].findIndex((v) => !Number.isFinite(v));
    if (t >= 0) return [b, t];
  }
  return undefined;
}

/** Throws naming the quantity, row and position when a rollout array holds NaN or ±Infinity. */
export function checkFinite(name: string, rows: number[][]): void {
  const at = firstNonFinite(rows);
  if (at) throw new Error(`${name} is ${rows[at[0]][at[1]]} at row ${at[0]}, position ${at[1]}`);
}

/**
 * Sample `groupSize` rationales per example with the policy and score their tokens under policy and reference.
 * `promptOf` turns an example into the student's prompt.
 */
export async function collectRollout(
  policy: StudentModel, reference: StudentModel, tokenizer: Tokenizer, examples: Example[], groupSize: number,
  promptOf: (example: Example) => string, options: RolloutOptions,
): Promise<Rollout> {
  const rows = examples.flatMap((example) => Array.from({ length: groupSize }, () => example));
  const prompts = rows.map(promptOf);
  const started = performance.now();
  const generations = await policy.complete(tokenizer, prompts, {
    maxNewTokens: options.maxNewTokens, temperature: options.temperature, topK: options.topK, topP: options.topP, minP: options.minP,
    stop: options.stop, seed: options.seed,
  });
  const samplingMs = performance.now() - started;

  const scoring = policy.scoringRows(tokenizer, prompts, generations.map((g) => g.tokenIds));
  const { ids, attentionMask, responseMask } = scoring;
  const passStarted = performance.now();
  const logprobs: number[][] = [];
  const refLogprobs: number[][] = [];
  const values: number[][] = [];
  for (let start = 0; start < ids.length; start += options.chunkSize) {
    const chunk = trainingKernels(() => tf.tidy(() => {
      const part = rowTensors(scoring, Array.from({ length: Math.min(options.chunkSize, ids.length - start) }, (_, i) => start + i));
      const policyPass = tokenPass(policy, part, options.temperature, options.withValues);
      const refLogprobs = options.withReference ?? true ? tokenPass(reference, part, options.temperature, false).logprobs : policyPass.logprobs.clone();
      return { logprobs: policyPass.logprobs, values: policyPass.values, refLogprobs };
    }));
    logprobs.push(...(chunk.logprobs.arraySync() as number[][]));
    refLogprobs.push(...(chunk.refLogprobs.arraySync() as number[][]));
    if (chunk.values) values.push(...(chunk.values.arraySync() as number[][]));
    tf.dispose([chunk.logprobs, chunk.refLogprobs, chunk.values]);
  }
  const passesMs = performance.now() - passStarted;
  const masked = (rows: number[][]) => rows.map((row, b) => row.map((v, t) => (responseMask[b][t] ? v : 0)));
  const rollout: Rollout = {
    examples: rows, groupSize, prompts,
    rationales: generations.map((g) => g.text.trim()),
    finishReasons: generations.map((g) => g.finishReason),
    ids, attentionMask, responseMask, ...(scoring.source ? { source: scoring.source } : {}),
    logprobs: masked(logprobs),
    refLogprobs: masked(refLogprobs),
    values: options.withValues ? masked(values) : responseMask.map((row) => row.map(() => 0)),
    responseLengths: generations.map((g) => g.tokenIds.length),
    timings: { samplingMs, passesMs },
  };
  checkFinite('rollout: policy log-prob', rollout.logprobs);
  checkFinite('rollout: reference log-prob', rollout.refLogprobs);
  checkFinite('rollout: value', rollout.values);
  return rollout;
}

/**
 * The student as the stages see it, whatever its family: a decoder-only {@link CausalLM} reads the prompt (BOS
 * first when its tokenizer adds one) and continues it; a T5 encoder-decoder reads the prompt as its source and
 * writes the continuation as its target. Both implement {@link StudentModel}: the text continuations (greedy
 * evaluation, RL rollouts), the scoring rows of prompt -> response pairs and their next-token log-probs (RL's
 * policy and reference log-probs, values, KL), the value head, the frozen copies.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Tokenizer } from '../tokenizer/types';
import type { CausalLM, ProjectionAdapter, WeightArrays } from './causal-lm';
import type { T5Model } from './t5';
import type { ResolvedModelConfig } from './config';
import type { GenerateOptions, Generation } from './sampling';
import type { ResolvedT5Config } from './t5-config';

/**
 * Prompt -> response pairs as token rows the student scores in one pass. Entry t of `responseMask` (and of every
 * per-token array built on these rows) is about predicting `ids[t + 1]` from position t.
 * - decoder-only: `ids` = BOS (when the tokenizer adds one), prompt, response;
 * - encoder-decoder: `ids` = the decoder start id, then the response; `source` = the prompt the encoder reads.
 */
export interface ScoringRows {
  /** [B, L] right-padded with the tokenizer's pad id. */
  ids: number[][];
  /** [B, L] 1 for real tokens. */
  attentionMask: number[][];
  /** [B, L − 1] 1 where ids[t + 1] is a response token. */
  responseMask: number[][];
  /** Encoder-decoder only: the source rows [B, S] (right-padded) and their mask. */
  source?: { ids: number[][]; mask: number[][] };
}

/** {@link ScoringRows} (or some of their rows) as tensors. */
export interface ScoringTensors {
  ids: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  source?: { ids: tf.Tensor2D; mask: tf.Tensor2D };
}

/** What {@link StudentModel.scoreRows} returns: per-position next-token scores, never the logits themselves. */
export interface ScoredRows {
  /** [B, L − 1]: entry t is log p(ids[t + 1] | ...) under softmax(logits / temperature). */
  logprobs: tf.Tensor2D;
  /** [B, L − 1]: the entropy of the same distributions, when asked for. */
  entropy?: tf.Tensor2D;
  /** [B, L − 1, d]: the last hidden state at each predicting position (the value head's input). */
  hidden: tf.Tensor3D;
}

/** Options of {@link StudentModel.scoreRows}. */
export interface ScoreOptions {
  /** Divide the logits by this first (default 1). */
  temperature?: number;
  entropy?: boolean;
}

/** What distillation, RL, evaluation and the judge need of a student model. */
export interface StudentModel {
  readonly config: ResolvedModelConfig | ResolvedT5Config;
  /** Model parameters by native name. */
  readonly weights: Record<string, tf.Variable>;
  /** Value head parameters (`value_head.w` [d, 1], `value_head.b` [1]). */
  readonly valueHeadWeights: Record<string, tf.Variable>;
  /** LoRA adapters on the projections, when attached (see lib/model/lora.ts). */
  adapter?: ProjectionAdapter;
  /** Continuations of text prompts (decoder-only: after the prompt, BOS first when the tokenizer adds one; T5: the prompt + EOS is the source). */
  complete(tokenizer: Tokenizer, prompts: string[], options: GenerateOptions): Promise<Generation[]>;
  /** The rows on which prompt -> response pairs are scored, with prompts cut as {@link complete} cuts them. */
  scoringRows(tokenizer: Tokenizer, prompts: string[], responses: number[][]): ScoringRows;
  /** Log-probs (and entropies) of each next token of scoring rows, one pass, differentiable (not tidied). */
  scoreRows(rows: ScoringTensors, options?: ScoreOptions): ScoredRows;
  /** Scalar value per position from the last hidden states [B, T, d] -> [B, T]. */
  value(hidden: tf.Tensor3D): tf.Tensor2D;
  numParams(): number;
  /** A frozen copy (non-trainable variables with the same values). */
  clone(): StudentModel;
  /** The same model without its adapter, sharing every weight (the base model; RL's reference under LoRA). */
  withoutAdapter(): StudentModel;
  toArrays(): Promise<WeightArrays>;
  dispose(): void;
}

/** The student families this library trains: what checkpoints load and the stages hold. */
export type Student = CausalLM | T5Model;

/** Right-pads rows to one width with `fill`. */
export function padRows(rows: number[][], fill: number): number[][] {
  const width = rows.reduce((widest, row) => Math.max(widest, row.length), 0);
  return rows.map((row) => row.concat(new Array<number>(width - row.length).fill(fill)));
}

/** 1 for each real entry, right-padded with 0 to the widest row. */
export function realTokenMask(rows: number[][]): number[][] {
  return padRows(rows.map((row) => row.map(() => 1)), 0);
}

/**
 * Scoring rows from per-row context tokens (what precedes the response in `ids`) and response tokens: `ids` =
 * context + response, right-padded; the response mask marks the positions that predict response tokens.
 */
export function rowsOf(contexts: number[][], responses: number[][], padId: number): Pick<ScoringRows, 'ids' | 'attentionMask' | 'responseMask'> {
  const sequences = contexts.map((context, b) => [...context, ...responses[b]]);
  const ids = padRows(sequences, padId);
  const width = ids[0]?.length ?? 0;
  const responseMask = sequences.map((s, b) => Array.from({ length: width - 1 }, (_, t) => (t + 1 >= contexts[b].length && t + 1 < s.length ? 1 : 0)));
  return { ids, attentionMask: realTokenMask(sequences), responseMask };
}

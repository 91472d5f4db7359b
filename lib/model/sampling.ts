/**
 * Batched text generation: left-padded prompts, one forward per new token with the KV cache, per-row stopping
 * on EOS, stop strings or the token budget, and seeded sampling (greedy, temperature, top-k, top-p) done on the
 * host from the logits read back.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../random';
import type { Tokenizer } from '../tokenizer/types';
import { withWasmThreads } from '../wasm-threads';
import { argmax, weighRows, type RowWeights } from './row-weights';
import type { CausalLM } from './causal-lm';

/** How to pick each next token. */
export interface SamplingOptions {
  /** Divide logits by this before sampling (default 1); 0 means greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (nucleus sampling). */
  topP?: number;
  /** Keep only tokens whose probability is at least minP times the most likely token's (min-p sampling). */
  minP?: number;
  /** Always take the most likely token. */
  greedy?: boolean;
}

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop a row when its generated text contains one of these; the text is cut before it. */
  stop?: string[];
  /** Seed of the sampling generator (default 0): the same seed, prompts and model give the same output. */
  seed?: number;
  /** Also return each generated token's log-probability under the model (temperature 1, no top-k/top-p). */
  returnLogprobs?: boolean;
  /** Reuse keys/values across steps (default true); false re-runs the whole sequence per token. */
  useCache?: boolean;
  /** Prepend the tokenizer's BOS token to every prompt (default false; token-id prompts are used as given). */
  addBos?: boolean;
  /** With returnLogprobs: also return the this-many most likely tokens at each step (default 0). */
  topLogprobs?: number;
  /** Awaited after each decoding step, e.g. to let a server answer other requests between steps. */
  betweenSteps?: () => Promise<void>;
  /** Called after each decoding step with every row's text so far (e.g. to stream it); see {@link PartialText}. */
  onStep?: (rows: readonly PartialText[]) => void;
}

/** A row's text after a decoding step. */
export interface PartialText {
  /** Decoded so far; for a finished row, its final text (cut before a stop string). */
  text: string;
  finished: boolean;
}

/** One generated continuation. */
export interface Generation {
  /** Decoded continuation without special tokens, cut before a stop string. */
  text: string;
  /** Every generated token id, including the final EOS or the token that completed a stop string. */
  tokenIds: number[];
  /** log p of each token in `tokenIds` (with `returnLogprobs`). */
  logprobs?: number[];
  /** The `topLogprobs` most likely tokens at each step, most likely first (with `returnLogprobs`). */
  topLogprobs?: { id: number; logprob: number }[][];
  /** `eos`: the EOS token (or another of the tokenizer's stop ids); `stop`: a stop string; `length`: maxNewTokens or the model's maxSeqLen. */
  finishReason: 'stop' | 'eos' | 'length';
}

/** log softmax(logits)[index], computed stably on the host. */
export function logProbOf(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return logits[index] - max - Math.log(sum);
}

/** Position of each column of a mask row: the number of real tokens before it (0 for leading padding). */
function positionIds(maskRow: number[]): number[] {
  let seen = 0;
  return maskRow.map((m) => {
    const position = Math.max(seen - 1 + m, 0);
    seen += m;
    return position;
  });
}

/** The k largest entries of log softmax(logits), largest first. */
function topLogProbs(logits: Float32Array, k: number): { id: number; logprob: number }[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const best: number[] = []; // ids, kept sorted by logit descending (k is small: at most 20)
  for (let i = 0; i < logits.length; i++) {
    if (best.length === k && logits[i] <= logits[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && logits[best[at - 1]] < logits[i]) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  const logSum = max + Math.log(sum);
  return best.map((id) => ({ id, logprob: logits[id] - logSum }));
}

/** Left-pads token-id prompts to one width: ids and attention mask. */
function padLeft(prompts: number[][], padId: number): { ids: number[][]; attentionMask: number[][] } {
  const width = prompts.reduce((widest, row) => Math.max(widest, row.length), 0);
  return {
    ids: prompts.map((row) => new Array<number>(width - row.length).fill(padId).concat(row)),
    attentionMask: prompts.map((row) => new Array<number>(width - row.length).fill(0).concat(new Array<number>(row.length).fill(1))),
  };
}

/** Index of the first stop string found in text, or -1 (a loop: the list may be long). */
function firstStop(text: string, stops: string[]): number {
  let cut = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut;
}

/** Index bits of {@link idsByLogit}'s sort keys: vocabularies up to 2^21 ids (32 + 21 bits fit a float64 exactly). */
const ID_BITS = 2 ** 21;

/**
 * Ids ordered by logit, largest first, ties by id: the order of a stable sort with `(a, b) => z[b] − z[a]`, made
 * by a native numeric sort of float64 keys (descending rank of the float32's bits) · 2^21 + id.
 */
function idsByLogit(logits: Float32Array): number[] {
  if (logits.length > ID_BITS) throw new Error(`sampleToken: top-k / top-p / min-p take vocabularies of at most ${ID_BITS} ids, got ${logits.length}`);
  const bits = new Uint32Array(logits.buffer, logits.byteOffset, logits.length);
  const keys = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const b = bits[i] === 0x80000000 ? 0 : bits[i]; // −0 ranks with +0, as the comparator has them
    const ascending = b >= 0x80000000 ? 0xffffffff - b : b + 0x80000000; // monotone in the float's value
    keys[i] = (0xffffffff - ascending) * ID_BITS + i;
  }
  keys.sort();
  const ids = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) ids[i] = keys[i] % ID_BITS;
  return ids;
}

/** Whether sampling keeps only some tokens (top-k, top-p or min-p). */
const truncates = (options: SamplingOptions) =>
  (options.topK !== undefined && options.topK > 0) || (options.topP !== undefined && options.topP < 1) || (options.minP ?? 0) > 0;

/**
 * Draws one token id from a row of logits: greedy when asked (or temperature 0), else softmax(logits / T)
 * restricted to the top-k tokens, then to the top-p nucleus, then to tokens with p >= minP · p_max, renormalised,
 * sampled with `random`.
 */
export function sampleToken(logits: Float32Array, options: SamplingOptions, random: Random): number {
  const temperature = options.temperature ?? 1;
  if (options.greedy || temperature === 0) return argmax(logits);
  if (!truncates(options)) {
    // every token in id order: one pass of exponentials and their sum (this runs once per row per generated token)
    const { weights, total } = weighRows(logits, logits.length, logits.length, [0], temperature).get(0)!;
    return random.weighted(weights, total);
  }
  const top = logits[argmax(logits)];
  // candidates most likely first
  let order = idsByLogit(logits);
  if (options.topK !== undefined && options.topK > 0) order = order.slice(0, options.topK);
  let weights = order.map((i) => Math.exp((logits[i] - top) / temperature));
  if (options.topP !== undefined && options.topP < 1) {
    const total = weights.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    let keep = 0;
    while (keep < weights.length && cumulative < options.topP * total) cumulative += weights[keep++];
    order = order.slice(0, keep);
    weights = weights.slice(0, keep);
  }
  if (options.minP !== undefined && options.minP > 0) {
    // weights are exp((z − z_max)/T), so the most likely token's is 1 and p_i / p_max = weights[i]
    const keep = weights.filter((w) => w >= options.minP!).length;
    order = order.slice(0, keep);
    weights = weights.slice(0, keep);
  }
  return order[random.weighted(weights)];
}

function checkOptions(model: CausalLM, tokenizer: Tokenizer, options: GenerateOptions): void {
  if (!Number.isSafeInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new Error(`generate: option "maxNewTokens" must be a positive integer, got ${options.maxNewTokens}`);
  }
  if (options.temperature !== undefined && !(options.temperature >= 0)) throw new Error(`generate: option "temperature" must be >= 0`);
  if (options.topP !== undefined && !(options.topP > 0 && options.topP <= 1)) throw new Error(`generate: option "topP" must be in (0, 1]`);
  if (options.minP !== undefined && !(options.minP >= 0 && options.minP < 1)) throw new Error(`generate: option "minP" must be in [0, 1)`);
  if (options.topK !== undefined && !(Number.isSafeInteger(options.topK) && options.topK >= 0)) throw new Error(`generate: option "topK" must be a non-negative integer`);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new Error(`generate: tokenizer vocabSize ${tokenizer.vocabSize} exceeds the model's vocabSize ${model.config.vocabSize}`);
  }
}

/**
 * The host side of batched decoding, shared by every model family: per-row seeded sampling from each step's
 * logits, log-probs, stop ids, stop strings, and the finished {@link Generation}s.
 */
export class RowSampler {
  private readonly rows: {
    random: Random;
    tokenIds: number[];
    logprobs: number[];
    topLogprobs: { id: number; logprob: number }[][];
    text: string;
    finishReason?: Generation['finishReason'];
  }[];
  private readonly stops: string[];
  private readonly stopIds: Set<number>;
  /** This step's weights of the unfinished rows (see {@link RowSampler.weigh}), and the logits they came from. */
  private weighed?: { values: Float32Array; width: number; rows: Map<number, RowWeights> };

  constructor(private readonly tokenizer: Tokenizer, private readonly options: GenerateOptions, rowCount: number) {
    this.rows = Array.from({ length: rowCount }, (_, r) => ({
      random: new Random(((options.seed ?? 0) * 1000003 + r) >>> 0),
      tokenIds: [],
      logprobs: [],
      topLogprobs: [],
      text: '',
    }));
    this.stops = (options.stop ?? []).filter((s) => s.length > 0);
    this.stopIds = new Set(tokenizer.stopIds ?? [tokenizer.eosId]);
  }

  /** Row `r`'s weights from {@link RowSampler.weigh}, if `rowLogits` is its row of the logits weighed. */
  private weighedRow(r: number, rowLogits: Float32Array): RowWeights | undefined {
    const step = this.weighed;
    const same = step && rowLogits.buffer === step.values.buffer && rowLogits.byteOffset === step.values.byteOffset + 4 * r * step.width;
    return same ? step.rows.get(r) : undefined;
  }

  /** Whether row `r` has finished. */
  finished(r: number): boolean {
    return this.rows[r].finishReason !== undefined;
  }

  /** Every row has finished. */
  get done(): boolean {
    return this.rows.every((row) => row.finishReason !== undefined);
  }

  /** Ends row `r` for running out of room (the model's length bound). */
  cut(r: number): void {
    this.rows[r].finishReason ??= 'length';
  }

  /**
   * Weighs every unfinished row of a step's logits (row r is `values[r * width ...]`) at once, before their
   * {@link RowSampler.take}s: for plain sampling (a temperature, no top-k, top-p or min-p) of many logits the rows
   * are shared with worker threads ({@link weighRows}); the draws are the same as weighing each row in `take`.
   */
  weigh(values: Float32Array, width: number): void {
    const { options } = this;
    const plain = !options.greedy && (options.temperature ?? 1) !== 0 && !truncates(options);
    const unfinished = this.rows.flatMap((row, r) => (row.finishReason === undefined ? [r] : []));
    this.weighed = plain ? { values, width, rows: weighRows(values, width, this.tokenizer.vocabSize, unfinished, options.temperature ?? 1) } : undefined;
  }

  /**
   * Draws row `r`'s next token from its logits (`vocab` wide; ids past the tokenizer's vocabulary, padded
   * embedding rows, are never drawn) and ends the row on a stop id or stop string. Returns the token.
   */
  take(r: number, rowLogits: Float32Array): number {
    const { tokenizer, options } = this;
    const row = this.rows[r];
    const weighed = this.weighedRow(r, rowLogits);
    const token = weighed ? row.random.weighted(weighed.weights, weighed.total) : sampleToken(rowLogits.subarray(0, tokenizer.vocabSize), options, row.random);
    row.tokenIds.push(token);
    if (options.returnLogprobs) row.logprobs.push(logProbOf(rowLogits, token));
    if (options.returnLogprobs && options.topLogprobs) row.topLogprobs.push(topLogProbs(rowLogits.subarray(0, tokenizer.vocabSize), options.topLogprobs));
    if (this.stopIds.has(token)) {
      row.finishReason = 'eos';
    } else if (this.stops.length > 0) {
      const text = tokenizer.decode(row.tokenIds, { skipSpecial: true });
      const cut = firstStop(text, this.stops);
      if (cut >= 0) {
        row.text = text.slice(0, cut);
        row.finishReason = 'stop';
      }
    }
    return token;
  }

  /** Each row's text so far (decoded from its tokens; a finished row's final text). */
  partial(): PartialText[] {
    return this.rows.map((row) => ({
      text: row.finishReason === 'stop' ? row.text : this.tokenizer.decode(row.tokenIds, { skipSpecial: true }),
      finished: row.finishReason !== undefined,
    }));
  }

  /** The generations, rows still running counted as `length`. */
  results(): Generation[] {
    const { tokenizer, options } = this;
    return this.rows.map((row) => ({
      text: row.finishReason === 'stop' ? row.text : tokenizer.decode(row.tokenIds, { skipSpecial: true }),
      tokenIds: row.tokenIds,
      ...(options.returnLogprobs ? { logprobs: row.logprobs } : {}),
      ...(options.returnLogprobs && options.topLogprobs ? { topLogprobs: row.topLogprobs } : {}),
      finishReason: row.finishReason ?? 'length',
    }));
  }
}

/**
 * Continues each prompt. Rows run together in one batch (prompts left-padded, positions counted from each
 * row's first real token); a row stops at EOS, a stop string, maxNewTokens, or when its own length (not the
 * padded width) reaches the model's maxSeqLen, so a long prompt in the batch does not cut the others short.
 * Text prompts longer than maxSeqLen - 1 tokens keep their end; token-id prompts (already encoded, BOS included
 * if wanted) must fit maxSeqLen - 1.
 */
export async function generate(model: CausalLM, tokenizer: Tokenizer, prompts: string[] | number[][], options: GenerateOptions): Promise<Generation[]> {
  checkOptions(model, tokenizer, options);
  const maxSeqLen = model.config.maxSeqLen;
  const encodeOptions = { padSide: 'left' as const, addBos: options.addBos ?? false };
  let encoded: { ids: number[][]; attentionMask: number[][] };
  if (prompts.every((p): p is number[] => Array.isArray(p))) {
    const longest = prompts.reduce((widest, row) => Math.max(widest, row.length), 0);
    if (longest > maxSeqLen - 1) throw new Error(`generate: a token-id prompt has ${longest} tokens; the model's maxSeqLen ${maxSeqLen} leaves room for ${maxSeqLen - 1}`);
    encoded = padLeft(prompts, tokenizer.padId);
  } else {
    const texts = prompts as string[];
    encoded = tokenizer.encodeBatch(texts, encodeOptions);
    if ((encoded.ids[0]?.length ?? 0) > maxSeqLen - 1) encoded = tokenizer.encodeBatch(texts, { ...encodeOptions, maxLength: maxSeqLen - 1, truncateSide: 'left' });
  }
  const batch = prompts.length;
  const sequences = encoded.ids.map((row) => [...row]);
  const masks = encoded.attentionMask.map((row) => [...row]);
  const sampler = new RowSampler(tokenizer, options, batch);
  const cache = options.useCache === false ? undefined : model.newCache();
  try {
    const lengths = masks.map((row) => row.reduce((a, b) => a + b, 0));
    for (let step = 0; step < options.maxNewTokens; step++) {
      const fed = cache && step > 0 ? sequences.map((s) => s.slice(-1)) : sequences;
      const width = fed[0].length;
      // A decoding step's products are a few rows each: on one thread (see withWasmThreads).
      const logits = withWasmThreads(1, () => tf.tidy(() => {
        const ids = tf.tensor2d(fed, [batch, width], 'int32');
        const attentionMask = tf.tensor2d(masks, [batch, masks[0].length], 'int32');
        const positions = tf.tensor2d(masks.map((row) => positionIds(row).slice(-width)), [batch, width], 'int32');
        return model.forward(ids, { attentionMask, positions, cache, lastOnly: true }).logits;
      }));
      const values = (await logits.data()) as Float32Array;
      logits.dispose();
      const vocab = model.config.vocabSize;
      sampler.weigh(values, vocab);
      for (let r = 0; r < batch; r++) {
        if (lengths[r] >= maxSeqLen) sampler.cut(r);
        if (sampler.finished(r)) {
          sequences[r].push(tokenizer.padId);
          masks[r].push(0);
          continue;
        }
        sequences[r].push(sampler.take(r, values.subarray(r * vocab, (r + 1) * vocab)));
        masks[r].push(1);
        lengths[r]++;
      }
      options.onStep?.(sampler.partial());
      if (sampler.done) break;
      await options.betweenSteps?.();
    }
  } finally {
    cache?.dispose();
  }
  return sampler.results();
}

/**
 * Batched generation with a T5 model: sources right-padded and encoded once, then one decoder step per new token
 * with the decoder cache (self-attention keys/values appended, cross-attention keys/values computed on the first
 * step and kept). Every row starts from the decoder start id at position 0, so the decoder needs no padding
 * until a row finishes; finished rows are fed padding, which no unfinished row attends to.
 */
import * as tf from '@tensorflow/tfjs';
import type { Tokenizer } from '../tokenizer/types';
import { withWasmThreads } from '../wasm-threads';
import { type GenerateOptions, type Generation, RowSampler } from './sampling';
import type { T5Model } from './t5';

/** Options of {@link t5Generate}: those of the decoder-only `generate` (without `addBos`), plus `addEos`. */
export interface T5GenerateOptions extends Omit<GenerateOptions, 'addBos'> {
  /** Append EOS to each text source, as T5's tokenizer does (default true; token-id sources are used as given). */
  addEos?: boolean;
  /**
   * Token ids each row's decoder is fed after the start id before anything is sampled (teacher-forced, not part of
   * the output), e.g. a rationale the answer must follow; a prefix longer than maxSeqLen − 1 keeps its end.
   */
  decoderPrefixes?: number[][];
}

/** Right-pads token-id sources to one width: ids and attention mask. */
function padRight(sources: number[][], padId: number): { ids: number[][]; attentionMask: number[][] } {
  const width = sources.reduce((widest, row) => Math.max(widest, row.length), 0);
  return {
    ids: sources.map((row) => row.concat(new Array<number>(width - row.length).fill(padId))),
    attentionMask: sources.map((row) => new Array<number>(row.length).fill(1).concat(new Array<number>(width - row.length).fill(0))),
  };
}

/**
 * Continues each source: rows stop at EOS (or another stop id), a stop string, maxNewTokens or the model's maxSeqLen
 * target positions. Text sources longer than maxSeqLen keep their start (T5 reads the task prefix first); token-id
 * sources must fit maxSeqLen. Same seed, same output.
 */
export async function t5Generate(model: T5Model, tokenizer: Tokenizer, sources: string[] | number[][], options: T5GenerateOptions): Promise<Generation[]> {
  if (!Number.isSafeInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new Error(`generate: option "maxNewTokens" must be a positive integer, got ${options.maxNewTokens}`);
  }
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new Error(`generate: tokenizer vocabSize ${tokenizer.vocabSize} exceeds the model's vocabSize ${model.config.vocabSize}`);
  }
  const { maxSeqLen, decoderStartId, vocabSize } = model.config;
  let encoded: { ids: number[][]; attentionMask: number[][] };
  if (sources.every((s): s is number[] => Array.isArray(s))) {
    const longest = sources.reduce((widest, row) => Math.max(widest, row.length), 0);
    if (longest > maxSeqLen) throw new Error(`generate: a token-id source has ${longest} tokens; the model's maxSeqLen is ${maxSeqLen}`);
    encoded = padRight(sources, tokenizer.padId);
  } else {
    const texts = sources as string[];
    const encodeOptions = { padSide: 'right' as const, addEos: options.addEos ?? true };
    encoded = tokenizer.encodeBatch(texts, encodeOptions);
    if ((encoded.ids[0]?.length ?? 0) > maxSeqLen) encoded = tokenizer.encodeBatch(texts, { ...encodeOptions, maxLength: maxSeqLen, truncateSide: 'right' });
  }
  const batch = sources.length;
  const sampler = new RowSampler(tokenizer, options, batch);
  const cache = options.useCache === false ? undefined : model.newCache();
  const encoding = tf.tidy(() => model.encode(tf.tensor2d(encoded.ids, undefined, 'int32'), tf.tensor2d(encoded.attentionMask, undefined, 'int32')));
  const decoderRows = encoded.ids.map(() => [decoderStartId]);
  // rows decode in step: row r is fed its prefix for its first prefix.length steps, then samples
  const prefixes = encoded.ids.map((_, r) => options.decoderPrefixes?.[r]?.slice(-(maxSeqLen - 1)) ?? []);
  const longest = prefixes.reduce((widest, prefix) => Math.max(widest, prefix.length), 0);
  try {
    for (let step = 0; step < Math.min(longest + options.maxNewTokens, maxSeqLen); step++) {
      const fed = cache ? decoderRows.map((row) => row.slice(-1)) : decoderRows;
      const logits = withWasmThreads(1, () => tf.tidy(() => model.decode(tf.tensor2d(fed, undefined, 'int32'), encoding, { cache, lastOnly: true }).logits));
      const values = (await logits.data()) as Float32Array;
      logits.dispose();
      sampler.weigh(values, vocabSize);
      for (let r = 0; r < batch; r++) {
        const prefix = prefixes[r];
        if (step < prefix.length) decoderRows[r].push(prefix[step]);
        else if (sampler.finished(r)) decoderRows[r].push(tokenizer.padId);
        else {
          decoderRows[r].push(sampler.take(r, values.subarray(r * vocabSize, (r + 1) * vocabSize)));
          if (step + 1 - prefix.length >= options.maxNewTokens) sampler.cut(r);
        }
      }
      options.onStep?.(sampler.partial());
      if (sampler.done) break;
      await options.betweenSteps?.();
    }
  } finally {
    cache?.dispose();
    tf.dispose([encoding.hidden, encoding.mask]);
  }
  return sampler.results();
}

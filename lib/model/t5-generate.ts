/**
 * Batched generation with a T5 model: sources right-padded and encoded once, then one decoder step per new token
 * with the decoder cache (self-attention keys/values appended, cross-attention keys/values computed on the first
 * step and kept). Every row starts from the decoder start id at position 0, so the decoder needs no padding
 * until a row finishes; finished rows are fed padding, which no unfinished row attends to.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../random';
import type { Tokenizer } from '../tokenizer/types';
import { type GenerateOptions, type Generation, logProbOf, sampleToken } from './sampling';
import type { T5Model } from './t5';

/** Options of {@link t5Generate}: those of the decoder-only `generate` (without `addBos`), plus `addEos`. */
export interface T5GenerateOptions extends Omit<GenerateOptions, 'addBos'> {
  /** Append EOS to each source, as T5's tokenizer does (default true). */
  addEos?: boolean;
}

/**
 * Continues each source: rows stop at EOS, a stop string, maxNewTokens or the model's maxSeqLen target positions.
 * Sources longer than maxSeqLen keep their start (T5 reads the task prefix first). Same seed, same output.
 */
export async function t5Generate(model: T5Model, tokenizer: Tokenizer, sources: string[], options: T5GenerateOptions): Promise<Generation[]> {
  if (!Number.isSafeInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new Error(`generate: option "maxNewTokens" must be a positive integer, got ${options.maxNewTokens}`);
  }
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new Error(`generate: tokenizer vocabSize ${tokenizer.vocabSize} exceeds the model's vocabSize ${model.config.vocabSize}`);
  }
  const { maxSeqLen, decoderStartId, vocabSize } = model.config;
  const encodeOptions = { padSide: 'right' as const, addEos: options.addEos ?? true };
  let encoded = tokenizer.encodeBatch(sources, encodeOptions);
  if ((encoded.ids[0]?.length ?? 0) > maxSeqLen) encoded = tokenizer.encodeBatch(sources, { ...encodeOptions, maxLength: maxSeqLen, truncateSide: 'right' });
  const batch = sources.length;
  const rows = sources.map((_, r) => ({
    random: new Random(((options.seed ?? 0) * 1000003 + r) >>> 0),
    tokenIds: [] as number[],
    logprobs: [] as number[],
    text: '',
    finishReason: undefined as Generation['finishReason'] | undefined,
  }));
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const useCache = options.useCache ?? true;
  const cache = useCache ? model.newCache() : undefined;
  const encoding = tf.tidy(() => model.encode(tf.tensor2d(encoded.ids, undefined, 'int32'), tf.tensor2d(encoded.attentionMask, undefined, 'int32')));
  const decoderRows = rows.map(() => [decoderStartId]);
  try {
    for (let step = 0; step < Math.min(options.maxNewTokens, maxSeqLen); step++) {
      const fed = cache ? decoderRows.map((row) => row.slice(-1)) : decoderRows;
      const logits = tf.tidy(() => model.decode(tf.tensor2d(fed, undefined, 'int32'), encoding, { cache, lastOnly: true }).logits);
      const values = (await logits.data()) as Float32Array;
      logits.dispose();
      for (let r = 0; r < batch; r++) {
        const row = rows[r];
        if (row.finishReason) {
          decoderRows[r].push(tokenizer.padId);
          continue;
        }
        const rowLogits = values.subarray(r * vocabSize, (r + 1) * vocabSize);
        // ids past the tokenizer's vocabulary (padded embedding rows) are never drawn
        const token = sampleToken(rowLogits.subarray(0, tokenizer.vocabSize), options, row.random);
        row.tokenIds.push(token);
        if (options.returnLogprobs) row.logprobs.push(logProbOf(rowLogits, token));
        decoderRows[r].push(token);
        if (token === tokenizer.eosId) {
          row.finishReason = 'eos';
          continue;
        }
        if (stops.length === 0) continue;
        const text = tokenizer.decode(row.tokenIds, { skipSpecial: true });
        const cut = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
        if (Number.isFinite(cut)) {
          row.text = text.slice(0, cut);
          row.finishReason = 'stop';
        }
      }
      if (rows.every((row) => row.finishReason)) break;
    }
  } finally {
    cache?.dispose();
    tf.dispose([encoding.hidden, encoding.mask]);
  }
  return rows.map((row) => ({
    text: row.finishReason === 'stop' ? row.text : tokenizer.decode(row.tokenIds, { skipSpecial: true }),
    tokenIds: row.tokenIds,
    ...(options.returnLogprobs ? { logprobs: row.logprobs } : {}),
    finishReason: row.finishReason ?? 'length',
  }));
}

import type { EncodeOptions, Tokenizer } from './types';

/** Prepends BOS and appends EOS to `ids` (in place) as `options` ask; returns `ids`. */
export function withSpecials(ids: number[], tokenizer: Pick<Tokenizer, 'bosId' | 'eosId'>, options: EncodeOptions = {}): number[] {
  if (options.addBos) ids.unshift(tokenizer.bosId);
  if (options.addEos) ids.push(tokenizer.eosId);
  return ids;
}

/** Throws naming the tokenizer if an id is not an integer in [0, vocabSize). */
export function checkIds(ids: number[], vocabSize: number, who: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new Error(`${who}.decode: id ${id} at position ${i} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

import type { EncodeOptions, Tokenizer } from './types';

/**
 * Prepends BOS (when the tokenizer has one and `ids` do not start with it already) and appends EOS to `ids` (in
 * place) as `options` ask; returns `ids`.
 */
export function withSpecials(ids: number[], tokenizer: Pick<Tokenizer, 'bosId' | 'eosId'>, options: EncodeOptions = {}): number[] {
  if (options.addBos && tokenizer.bosId !== undefined && ids[0] !== tokenizer.bosId) ids.unshift(tokenizer.bosId);
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

/** Ids 0-3 of the char and word-char tokenizers; their vocabulary follows from id 4. */
export const LEADING_SPECIALS = ['<pad>', '<bos>', '<eos>', '<unk>'] as const;

/**
 * The text of `ids` for a tokenizer whose vocabulary starts with {@link LEADING_SPECIALS}: each id's token
 * concatenated, the specials as their names (`<eos>`, ...) unless `skipSpecial`. Ids are checked first.
 */
export function joinTokens(ids: number[], tokens: readonly string[], options: { skipSpecial?: boolean }, who: string): string {
  checkIds(ids, tokens.length, who);
  let text = '';
  for (const id of ids) {
    if (id >= LEADING_SPECIALS.length || !options.skipSpecial) text += tokens[id];
  }
  return text;
}

/** `json[field]` as a list of strings, or an Error naming the file (`source`) and the field. */
export function stringList(json: Record<string, unknown>, field: string, source: string): string[] {
  const value = json[field];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error(`${source}: "${field}" must be a list of strings`);
  return value;
}

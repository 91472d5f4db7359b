/**
 * A tokenizer for small from-scratch students on templated rationales: words that recur across many training texts
 * (with their leading space, e.g. ` letter`, ` coin`) are one token each; everything else (names, numbers,
 * punctuation) is spelled out character by character, so a student can still copy and inspect rare words letter by
 * letter. On the Fine-tune-CoT rationales it cuts sequences 1.6-2.6x against a pure character tokenizer.
 */
import { join } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { encodeBatchWith } from './batch';
import { joinTokens, LEADING_SPECIALS as SPECIALS, stringList, withSpecials } from './ids';
import type { BatchEncodeOptions, BatchEncoding, EncodeOptions, Tokenizer } from './types';

/** A word piece: letters with an optional leading space. Splitting on it keeps the pieces in the output. */
export const WORD_PIECE = /( ?[A-Za-z]+)/;

/** Characters and recurring words; ids: the four specials, then `chars`, then `words`. */
export class WordCharTokenizer implements Tokenizer {
  readonly kind = 'word-char';
  readonly padId = 0;
  readonly bosId = 1;
  /** Its models train and sample with BOS first. */
  readonly addsBos = true;
  readonly eosId = 2;
  readonly unkId = 3;
  readonly vocabSize: number;
  readonly tokens: readonly string[];
  private readonly idOf: Map<string, number>;

  constructor(readonly chars: readonly string[], readonly words: readonly string[]) {
    this.tokens = [...SPECIALS, ...chars, ...words];
    this.idOf = new Map(this.tokens.slice(SPECIALS.length).map((token, i) => [token, SPECIALS.length + i]));
    if (this.idOf.size !== chars.length + words.length) throw new Error('WordCharTokenizer: a character or word appears twice');
    this.vocabSize = this.tokens.length;
  }

  /**
   * Every character of `texts`, plus each word piece found in at least `minShare` of them (document frequency),
   * so that rare words such as names stay character-level.
   */
  static fromTexts(texts: readonly string[], minShare: number): WordCharTokenizer {
    const chars = new Set<string>();
    const documents = new Map<string, number>();
    for (const text of texts) {
      for (const char of text) chars.add(char);
      for (const piece of new Set(text.split(WORD_PIECE).filter((_, i) => i % 2 === 1))) documents.set(piece, (documents.get(piece) ?? 0) + 1);
    }
    const words = [...documents].filter(([piece, n]) => n >= minShare * texts.length && [...piece].length > 1).map(([piece]) => piece).sort();
    return new WordCharTokenizer([...chars].sort(), words);
  }

  /** Read back what {@link WordCharTokenizer.save} wrote. */
  static fromJSON(json: Record<string, unknown>, source: string): WordCharTokenizer {
    const [chars, words] = [stringList(json, 'chars', source), stringList(json, 'words', source)];
    try {
      return new WordCharTokenizer(chars, words);
    } catch (error) {
      throw new Error(`${source}: ${(error as Error).message}`);
    }
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const ids: number[] = [];
    text.split(WORD_PIECE).forEach((piece, i) => {
      const word = i % 2 === 1 ? this.idOf.get(piece) : undefined;
      if (word !== undefined) ids.push(word);
      else for (const char of piece) ids.push(this.idOf.get(char) ?? this.unkId);
    });
    return withSpecials(ids, this, options);
  }

  decode(ids: number[], options: { skipSpecial?: boolean } = {}): string {
    return joinTokens(ids, this.tokens, options, 'WordCharTokenizer');
  }

  encodeBatch(texts: string[], options?: BatchEncodeOptions): BatchEncoding {
    return encodeBatchWith(this, texts, options);
  }

  async save(dir: string): Promise<void> {
    writeJsonAtomic(join(dir, 'tokenizer.json'), { kind: this.kind, version: 1, chars: this.chars, words: this.words });
  }
}

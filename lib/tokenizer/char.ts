import { join } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { encodeBatchWith } from './batch';
import { joinTokens, LEADING_SPECIALS as SPECIALS, stringList, withSpecials } from './ids';
import type { BatchEncodeOptions, BatchEncoding, EncodeOptions, Tokenizer } from './types';

/**
 * One token per Unicode code point seen in the training texts, plus `<pad>` (0), `<bos>` (1), `<eos>` (2) and
 * `<unk>` (3) for characters never seen. Decoding any encoding of text made of known characters gives the text back
 * exactly. Saved as `tokenizer.json` `{ kind: "char", version: 1, chars: [...] }`.
 */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char';
  readonly padId = 0;
  readonly bosId = 1;
  /** Its models train and sample with BOS first. */
  readonly addsBos = true;
  readonly eosId = 2;
  readonly unkId = 3;
  readonly vocabSize: number;
  /** Every token in id order: the four specials, then the characters. */
  readonly tokens: readonly string[];
  private readonly idOf: Map<string, number>;

  /** `chars`: the vocabulary's characters in id order (each one code point, no repeats). */
  constructor(readonly chars: readonly string[]) {
    this.idOf = new Map();
    chars.forEach((char, i) => {
      if ([...char].length !== 1) throw new Error(`CharTokenizer: vocabulary entry ${i} ${JSON.stringify(char)} is not one character`);
      if (this.idOf.has(char)) throw new Error(`CharTokenizer: character ${JSON.stringify(char)} appears twice in the vocabulary`);
      this.idOf.set(char, SPECIALS.length + i);
    });
    this.tokens = [...SPECIALS, ...chars];
    this.vocabSize = this.tokens.length;
  }

  /** A vocabulary of every code point in `texts`, in code-point order. */
  static fromTexts(texts: Iterable<string>): CharTokenizer {
    const seen = new Set<string>();
    for (const text of texts) for (const char of text) seen.add(char);
    return new CharTokenizer([...seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  /** Rebuilds from the object {@link save} wrote; `source` names the file in errors. */
  static fromJSON(json: Record<string, unknown>, source: string): CharTokenizer {
    const chars = stringList(json, 'chars', source);
    try {
      return new CharTokenizer(chars);
    } catch (error) {
      throw new Error(`${source}: ${(error as Error).message}`);
    }
  }

  encode(text: string, options?: EncodeOptions): number[] {
    return withSpecials(Array.from(text, (char) => this.idOf.get(char) ?? this.unkId), this, options);
  }

  /** Specials appear as their names (`<eos>`, ...) unless `skipSpecial`. */
  decode(ids: number[], options: { skipSpecial?: boolean } = {}): string {
    return joinTokens(ids, this.tokens, options, 'CharTokenizer');
  }

  encodeBatch(texts: string[], options?: BatchEncodeOptions): BatchEncoding {
    return encodeBatchWith(this, texts, options);
  }

  async save(dir: string): Promise<void> {
    writeJsonAtomic(join(dir, 'tokenizer.json'), { kind: this.kind, version: 1, chars: this.chars });
  }
}

import { join } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { encodeBatchWith } from './batch';
import { checkIds, withSpecials } from './ids';
import type { BatchEncodeOptions, BatchEncoding, EncodeOptions, Tokenizer } from './types';

/** Ids 256-258 of a {@link ByteTokenizer}, after the 256 byte values. */
const SPECIALS = ['<pad>', '<bos>', '<eos>'] as const;

/**
 * One token per UTF-8 byte (ids 0-255 are the byte values), plus `<pad>` (256), `<bos>` (257), `<eos>` (258).
 * Needs no training and never meets an unknown character: decode(encode(text)) === text for any text without lone
 * surrogates (which UTF-8 cannot hold; they encode as U+FFFD). Byte runs that are not valid UTF-8 (a model can
 * sample them) decode to U+FFFD. Saved as `tokenizer.json` `{ kind: "byte", version: 1 }`.
 */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte';
  readonly padId = 256;
  readonly bosId = 257;
  /** Its models train and sample with BOS first. */
  readonly addsBos = true;
  readonly eosId = 258;
  readonly vocabSize = 259;
  /** Every token in id order: `<0x00>` ... `<0xFF>` (the byte-fallback names Hugging Face uses), then the specials. */
  readonly tokens: readonly string[] = [
    ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
    ...SPECIALS,
  ];
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8');

  encode(text: string, options?: EncodeOptions): number[] {
    return withSpecials(Array.from(this.encoder.encode(text)), this, options);
  }

  /** Specials appear as their names (`<eos>`, ...) unless `skipSpecial`; bytes between them decode as UTF-8. */
  decode(ids: number[], options: { skipSpecial?: boolean } = {}): string {
    checkIds(ids, this.vocabSize, 'ByteTokenizer');
    let text = '';
    let run: number[] = [];
    const flush = () => {
      text += this.decoder.decode(new Uint8Array(run));
      run = [];
    };
    for (const id of ids) {
      if (id < 256) {
        run.push(id);
        continue;
      }
      flush();
      if (!options.skipSpecial) text += this.tokens[id];
    }
    flush();
    return text;
  }

  encodeBatch(texts: string[], options?: BatchEncodeOptions): BatchEncoding {
    return encodeBatchWith(this, texts, options);
  }

  async save(dir: string): Promise<void> {
    writeJsonAtomic(join(dir, 'tokenizer.json'), { kind: this.kind, version: 1 });
  }
}

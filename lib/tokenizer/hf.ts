import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer as HFCore } from '@huggingface/tokenizers';
import { writeFileAtomic, writeJsonAtomic } from '../fs';
import { encodeBatchWith } from './batch';
import { checkIds, withSpecials } from './ids';
import { asObject, readJsonFile } from './json-file';
import type { BatchEncodeOptions, BatchEncoding, EncodeOptions, Tokenizer } from './types';

/** Model types of tokenizer.json that @huggingface/tokenizers implements. */
const SUPPORTED_MODELS = ['BPE', 'Unigram', 'WordPiece'];

/** Special-token names tried, in order, when tokenizer_config.json does not name one. */
const FALLBACK_NAMES = {
  eos: ['</s>', '<|endoftext|>', '<|end_of_text|>', '<eos>'],
  bos: ['<s>', '<|begin_of_text|>', '<bos>', '<|endoftext|>'],
  pad: ['<pad>', '<|pad|>', '[PAD]'],
};

/** A `*_token` field of tokenizer_config.json: a string, `{ content }`, or absent/null. */
function configTokenName(config: Record<string, unknown>, field: string, source: string): string | undefined {
  const value = config[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  throw new Error(`${source}: "${field}" must be a token string or { "content": string }`);
}

/**
 * A Hugging Face `tokenizer.json` (BPE as in GPT-2 and Llama-family checkpoints; also Unigram and WordPiece) run by
 * `@huggingface/tokenizers`. BOS/EOS/PAD come from tokenizer_config.json (`bos_token`, `eos_token`, `pad_token`)
 * when given, else from well-known names among the tokens; a missing BOS or PAD falls back to EOS (GPT-2 has one
 * token, `<|endoftext|>`, for all three). `encode` never adds specials by itself: only `addBos`/`addEos` do, so
 * every tokenizer family behaves alike. Decoding does not "clean up" spaces, so it inverts encoding exactly.
 */
export class HFTokenizer implements Tokenizer {
  readonly kind = 'hf';
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Names of the BOS/EOS/PAD tokens. */
  readonly specialTokens: { bos: string; eos: string; pad: string };
  private readonly core: HFCore;

  /**
   * `tokenizerJson`: the parsed tokenizer.json; `config`: the parsed tokenizer_config.json (or `{}`); `source`:
   * the file named in errors.
   */
  constructor(
    private readonly tokenizerJson: Record<string, unknown>,
    private readonly config: Record<string, unknown>,
    source = 'tokenizer.json',
  ) {
    const model = tokenizerJson.model as { type?: unknown } | undefined;
    if (typeof model !== 'object' || model === null) throw new Error(`${source}: no "model" object: not a Hugging Face tokenizer.json`);
    if (!SUPPORTED_MODELS.includes(String(model.type))) {
      throw new Error(`${source}: unsupported tokenizer model type ${JSON.stringify(model.type)} (supported: ${SUPPORTED_MODELS.join(', ')})`);
    }
    try {
      // The core reads these keys unconditionally; older files may omit the empty ones.
      const complete = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...tokenizerJson };
      this.core = new HFCore(complete, config);
    } catch (error) {
      throw new Error(`${source}: ${(error as Error).message}`);
    }
    const vocab = this.core.get_vocab(true);
    let largestId = -1; // a loop, not Math.max(...ids): vocabularies of 100k+ ids overflow the argument stack
    for (const id of vocab.values()) largestId = Math.max(largestId, id);
    this.vocabSize = largestId + 1;

    const find = (role: keyof typeof FALLBACK_NAMES): string | undefined => {
      const named = configTokenName(config, `${role}_token`, `${source} (tokenizer_config.json)`);
      if (named !== undefined && !vocab.has(named)) {
        throw new Error(`${source}: tokenizer_config.json ${role}_token ${JSON.stringify(named)} is not in the vocabulary`);
      }
      return named ?? FALLBACK_NAMES[role].find((name) => vocab.has(name));
    };
    const eos = find('eos');
    if (eos === undefined) throw new Error(`${source}: no EOS token found; name one as "eos_token" in tokenizer_config.json`);
    const bos = find('bos') ?? eos;
    const pad = find('pad') ?? eos;
    this.specialTokens = { bos, eos, pad };
    this.bosId = vocab.get(bos)!;
    this.eosId = vocab.get(eos)!;
    this.padId = vocab.get(pad)!;
  }

  /**
   * Loads `tokenizer.json` at `path`, with the `tokenizer_config.json` beside it when present (or at
   * `configPath`).
   */
  static fromFile(path: string, configPath = join(dirname(path), 'tokenizer_config.json')): HFTokenizer {
    const json = asObject(readJsonFile(path), path);
    const config = existsSync(configPath) ? asObject(readJsonFile(configPath), configPath) : {};
    return new HFTokenizer(json, config, path);
  }

  encode(text: string, options?: EncodeOptions): number[] {
    return withSpecials(this.core.encode(text, { add_special_tokens: false }).ids, this, options);
  }

  /** With `skipSpecial`, tokens marked special in tokenizer.json (BOS, EOS, ...) are left out. */
  decode(ids: number[], options: { skipSpecial?: boolean } = {}): string {
    checkIds(ids, this.vocabSize, 'HFTokenizer');
    if (ids.length === 0) return '';
    return this.core.decode(ids, { skip_special_tokens: options.skipSpecial ?? false, clean_up_tokenization_spaces: false });
  }

  encodeBatch(texts: string[], options?: BatchEncodeOptions): BatchEncoding {
    return encodeBatchWith(this, texts, options);
  }

  /** The token string of an id (as in the vocabulary, e.g. `Ġworld`), or undefined. */
  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }

  /**
   * Writes tokenizer.json unchanged and tokenizer_config.json with the resolved bos/eos/pad names, so the folder
   * loads here and in other Hugging Face tools.
   */
  async save(dir: string): Promise<void> {
    writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(this.tokenizerJson));
    const { bos, eos, pad } = this.specialTokens;
    writeJsonAtomic(join(dir, 'tokenizer_config.json'), { ...this.config, bos_token: bos, eos_token: eos, pad_token: pad });
  }
}

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

/**
 * Special-token ids a model folder declares outside the tokenizer's files: config.json / generation_config.json
 * `bos_token_id`, `eos_token_id` (one id or a list: every one ends a generation), `pad_token_id`.
 */
export interface DeclaredSpecialIds {
  bos?: number;
  eos?: number[];
  pad?: number;
  /** The file(s) the ids came from, named in errors. */
  source: string;
}

/** A `*_token` field of tokenizer_config.json: a string, `{ content }`, null (declared absent) or undefined. */
function configTokenName(config: Record<string, unknown>, field: string, source: string): string | null | undefined {
  const value = config[field];
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  throw new Error(`${source}: "${field}" must be a token string or { "content": string }`);
}

/**
 * Whether a tokenizer.json `post_processor` puts `bos` first in a single sequence: a `TemplateProcessing` whose
 * `single` template starts with it, alone or inside a `Sequence` (Llama 3's ByteLevel + TemplateProcessing).
 */
function postProcessorAddsBos(processor: unknown, bos: string): boolean {
  if (typeof processor !== 'object' || processor === null) return false;
  const { type, single, processors } = processor as { type?: unknown; single?: unknown; processors?: unknown };
  if (type === 'Sequence' && Array.isArray(processors)) return processors.some((p) => postProcessorAddsBos(p, bos));
  if (type !== 'TemplateProcessing' || !Array.isArray(single)) return false;
  return (single[0] as { SpecialToken?: { id?: unknown } } | undefined)?.SpecialToken?.id === bos;
}

/**
 * A Hugging Face `tokenizer.json` (BPE as in GPT-2, Llama and Qwen checkpoints; also Unigram and WordPiece) run by
 * `@huggingface/tokenizers`. Special tokens come only from what the folder declares, never from vocabulary
 * entries that look special: tokenizer_config.json `bos_token` / `eos_token` / `pad_token` first (`null` declares
 * none), then config.json / generation_config.json ids, then, for a tokenizer.json with exactly one special added
 * token (GPT-2's `<|endoftext|>`), that token for all three. No declared EOS is an error; no declared BOS means
 * `addBos` adds nothing; PAD defaults to EOS (padding is masked). Whether prompts get BOS ({@link HFTokenizer.addsBos})
 * follows tokenizer_config.json `add_bos_token`, else the tokenizer.json post-processor. `encode` never adds specials by itself: only
 * `addBos`/`addEos` do, so every tokenizer family behaves alike. Decoding does not "clean up" spaces, so it
 * inverts encoding exactly. The chat template of tokenizer_config.json, if any, is {@link HFTokenizer.chatTemplate}.
 */
export class HFTokenizer implements Tokenizer {
  readonly kind = 'hf';
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  /** tokenizer_config.json `add_bos_token`, else whether tokenizer.json's post-processor prepends the BOS token. */
  readonly addsBos: boolean;
  readonly eosId: number;
  readonly padId: number;
  readonly stopIds: readonly number[];
  /** Names of the BOS/EOS/PAD tokens (bos undefined when there is none). */
  readonly specialTokens: { bos?: string; eos: string; pad: string };
  /** The Jinja chat template of tokenizer_config.json (`chat_template`), if it has one. */
  readonly chatTemplate?: string;
  private readonly core: HFCore;

  /**
   * `tokenizerJson`: the parsed tokenizer.json; `config`: the parsed tokenizer_config.json (or `{}`); `source`:
   * the file named in errors; `declared`: ids from the model's config.json / generation_config.json.
   */
  constructor(
    private readonly tokenizerJson: Record<string, unknown>,
    private readonly config: Record<string, unknown>,
    source = 'tokenizer.json',
    declared: DeclaredSpecialIds = { source: 'config.json' },
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

    const configSource = `${source} (tokenizer_config.json)`;
    const named = (role: 'bos' | 'eos' | 'pad'): string | null | undefined => {
      const name = configTokenName(config, `${role}_token`, configSource);
      if (typeof name === 'string' && !vocab.has(name)) {
        throw new Error(`${source}: tokenizer_config.json ${role}_token ${JSON.stringify(name)} is not in the vocabulary`);
      }
      return name;
    };
    const tokenOf = (id: number | undefined, field: string): string | undefined => {
      if (id === undefined) return undefined;
      const token = this.core.id_to_token(id);
      if (token === undefined) throw new Error(`${declared.source}: ${field} ${id} is outside the tokenizer's vocabulary`);
      return token;
    };
    const addedSpecials = (Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [])
      .filter((t: { special?: unknown; content?: unknown }) => t.special === true && typeof t.content === 'string')
      .map((t: { content: string }) => t.content);
    const onlySpecial = addedSpecials.length === 1 ? addedSpecials[0] : undefined;

    const eosNamed = named('eos');
    const eos = eosNamed ?? tokenOf(declared.eos?.[0], 'eos_token_id') ?? onlySpecial;
    if (eos === undefined) {
      throw new Error(`${source}: no EOS token declared; name one as "eos_token" in tokenizer_config.json or "eos_token_id" in config.json`);
    }
    const bosNamed = named('bos');
    const bos = bosNamed === null ? undefined : (bosNamed ?? tokenOf(declared.bos, 'bos_token_id') ?? onlySpecial);
    const pad = named('pad') ?? tokenOf(declared.pad, 'pad_token_id') ?? eos;
    this.specialTokens = { bos, eos, pad };
    this.bosId = bos === undefined ? undefined : vocab.get(bos)!;
    const addBosToken = config.add_bos_token;
    if (addBosToken !== undefined && addBosToken !== null && typeof addBosToken !== 'boolean') {
      throw new Error(`${configSource}: "add_bos_token" must be true or false, got ${JSON.stringify(addBosToken)}`);
    }
    this.addsBos = bos !== undefined && (typeof addBosToken === 'boolean' ? addBosToken : postProcessorAddsBos(tokenizerJson.post_processor, bos));
    this.eosId = vocab.get(eos)!;
    this.padId = vocab.get(pad)!;
    for (const [i, id] of (declared.eos ?? []).entries()) tokenOf(id, `eos_token_id[${i}]`);
    this.stopIds = [...new Set([this.eosId, ...(declared.eos ?? [])])];
    if (typeof config.chat_template === 'string') this.chatTemplate = config.chat_template;
    else if (config.chat_template !== undefined && config.chat_template !== null) {
      throw new Error(`${configSource}: "chat_template" must be a string (named template lists are not supported)`);
    }
  }

  /**
   * Loads `tokenizer.json` at `path`, with the `tokenizer_config.json` beside it when present (or at
   * `configPath`).
   */
  static fromFile(path: string, configPath = join(dirname(path), 'tokenizer_config.json'), declared?: DeclaredSpecialIds): HFTokenizer {
    const json = asObject(readJsonFile(path), path);
    const config = existsSync(configPath) ? asObject(readJsonFile(configPath), configPath) : {};
    return new HFTokenizer(json, config, path, declared);
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
    writeJsonAtomic(join(dir, 'tokenizer_config.json'), { ...this.config, bos_token: bos ?? null, eos_token: eos, pad_token: pad });
  }
}

export interface EncodeOptions {
  /** Prepend the BOS token (default false); nothing when the text already starts with it (a rendered chat template). */
  addBos?: boolean;
  /** Append the EOS token (default false). */
  addEos?: boolean;
}

export interface BatchEncodeOptions extends EncodeOptions {
  /** Pad (and truncate) every row to this length; default: the longest row. */
  maxLength?: number;
  /** Which side padding goes on (default `right`; `left` for batched generation). */
  padSide?: 'left' | 'right';
  /** Which side is cut when a row is longer than maxLength (default `left`: keep the end). */
  truncateSide?: 'left' | 'right';
}

export interface BatchEncoding {
  ids: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
  /** Rows that were cut to maxLength. */
  truncated: number[];
}

/** Text <-> token ids, with the special tokens a causal LM needs. */
export interface Tokenizer {
  /** `char`, `byte` or `hf`. */
  readonly kind: string;
  readonly vocabSize: number;
  /** The BOS id, or undefined when the tokenizer declares none (Qwen): `addBos` then adds nothing. */
  readonly bosId: number | undefined;
  /**
   * Whether the model's inputs start with BOS: what prompt encoding for training, RL, evaluation and the local client
   * passes as `addBos`. A Hugging Face tokenizer's `add_bos_token` (tokenizer_config.json: Llama true, Qwen2 false),
   * else whether its tokenizer.json post-processor prepends BOS (Llama 3); true for this library's own tokenizers.
   */
  readonly addsBos: boolean;
  readonly eosId: number;
  /** Every id that ends a generation (default `[eosId]`), e.g. an instruct model's end-of-turn and end-of-text. */
  readonly stopIds?: readonly number[];
  /** A Jinja chat template (Hugging Face tokenizer_config.json `chat_template`) for chat prompts, if any. */
  readonly chatTemplate?: string;
  readonly padId: number;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: number[], options?: { skipSpecial?: boolean }): string;
  encodeBatch(texts: string[], options?: BatchEncodeOptions): BatchEncoding;
  /** Write the tokenizer's file(s) into a checkpoint folder. */
  save(dir: string): Promise<void>;
}

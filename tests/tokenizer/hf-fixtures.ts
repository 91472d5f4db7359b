/**
 * Small Hugging Face tokenizer.json files written by hand, in the layouts real checkpoints use: GPT-2 style
 * byte-level BPE, and Llama/SentencePiece style BPE with byte fallback (legacy normalizer or Metaspace).
 */
import { Random } from '../../lib/random';

/**
 * GPT-2's byte -> printable character table: bytes that are printable Latin-1 stand for themselves, the others
 * (controls, space, ...) are shifted to U+0100 upwards in byte order. Returned in GPT-2's id order: the printable
 * ones first, so id('!') = 0, id('l') = 75, id('Ġ' = space) = 220.
 */
export function byteLevelAlphabet(): { char: string; byte: number }[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const first: { char: string; byte: number }[] = [];
  const rest: { char: string; byte: number }[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (printable(b)) first.push({ char: String.fromCharCode(b), byte: b });
    else rest.push({ char: String.fromCharCode(256 + shifted++), byte: b });
  }
  return [...first, ...rest];
}

/**
 * Merges of the GPT-2 style fixture, by rank. "l o" outranks "l l", so "hello" merges only one way; the digit
 * merges ("3 4" first) make the pre-tokenizer's digit splitting visible in the ids.
 */
export const GPT2_MERGES = ['h e', 'l o', 'l l', 'he l', 'hel lo', 'Ġ w', 'o r', 'Ġw or', '3 4', '1 2', '12 3', '4 5'];

/** Llama 3's pre-tokenizer split: letters, 1-3 digit groups, punctuation runs, whitespace. */
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Byte-level BPE over GPT-2's byte alphabet with three pre-tokenizer layouts real checkpoints use: `gpt2` (the
 * ByteLevel pre-tokenizer's own regex), `llama3` (a Split regex with 1-3 digit groups, then ByteLevel without
 * regex), `smollm` (single digits split off, then ByteLevel).
 */
export function gpt2StyleTokenizer(layout: 'gpt2' | 'llama3' | 'smollm' = 'gpt2'): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach(({ char }, id) => (vocab[char] = id));
  for (const merge of GPT2_MERGES) vocab[merge.replace(' ', '')] = Object.keys(vocab).length;
  const eosId = Object.keys(vocab).length; // 268
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const preTokenizers = {
    gpt2: byteLevel,
    llama3: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
        { ...byteLevel, use_regex: false },
      ],
    },
    smollm: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel] },
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eosId, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: preTokenizers[layout],
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges: GPT2_MERGES,
    },
  };
}

export const GPT2_CONFIG = { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 1024 };

/**
 * Llama/SentencePiece style: ids 0-2 are <unk> <s> </s>, 3-258 the byte tokens <0x00>..<0xFF>, then pieces.
 * Merges in rank order; "o w" outranks "l o", and "▁ l" outranks "l o", so "▁low" must come out as ▁l + ow.
 */
export const LLAMA_PIECES = ['▁', 'l', 'o', 'w', 'e', 'r', 'ow', '▁l', 'lo', 'er', '▁low', '▁lower'];
export const LLAMA_MERGES = [['o', 'w'], ['▁', 'l'], ['l', 'o'], ['e', 'r'], ['▁l', 'ow'], ['▁low', 'er']];

export function llamaStyleTokenizer(layout: 'normalizer' | 'metaspace'): Record<string, unknown> {
  const specials = ['<unk>', '<s>', '</s>'];
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const vocab: Record<string, number> = {};
  [...specials, ...bytes, ...LLAMA_PIECES].forEach((token, id) => (vocab[token] = id));
  const decodeBytes = [{ type: 'ByteFallback' }, { type: 'Fuse' }];
  const layoutParts =
    layout === 'normalizer'
      ? {
          // Llama 2 as exported by transformers: prepend ▁ and turn spaces into ▁ in the normalizer, no pre-tokenizer.
          normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
          pre_tokenizer: null,
          decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, ...decodeBytes, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
        }
      : {
          normalizer: null,
          pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
          decoder: { type: 'Sequence', decoders: [...decodeBytes, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }] },
        };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    ...layoutParts,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: LLAMA_MERGES,
    },
  };
}

export const LLAMA_CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: { __type: 'AddedToken', content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  eos_token: { __type: 'AddedToken', content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  pad_token: null,
  unk_token: '<unk>',
  clean_up_tokenization_spaces: true,
};

/**
 * `count` seeded random strings mixing ASCII words, digits, punctuation, runs of spaces/tabs/newlines, accents,
 * CJK, emoji (astral, with skin tones and ZWJ sequences) and the byte-fallback range: round-trip fodder.
 */
export function randomTexts(count: number, seed: number): string[] {
  const random = new Random(seed);
  const pieces = ['hello', 'world', 'lower', ' ', '  ', '\t', '\n', '\r\n', '12', '345', '3.14', ',', '?!', "'s", 'é', 'ñ',
    'Å', '数学', 'の', 'α', '🙂', '👍🏽', '👨‍👩‍👧', '\u0000', '\u007f', '\u00a0', 'e\u0301', '<', '>', '|'];
  return Array.from({ length: count }, () => Array.from({ length: 1 + random.int(12) }, () => random.pick(pieces)).join(''));
}

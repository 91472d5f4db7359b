import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../fs';
import { ByteTokenizer } from './byte';
import { CharTokenizer } from './char';
import { HFTokenizer } from './hf';
import { WORD_PIECE, WordCharTokenizer } from './word-char';
import type { Tokenizer } from './types';

/** tokenizer.json + tokenizer_config.json contents. */
interface HFFiles {
  tokenizerJson: Record<string, unknown>;
  config: Record<string, unknown>;
}

/**
 * A BPE model without merges and without pre-tokenizer splits the whole text into code points and looks each up:
 * exactly what {@link CharTokenizer} does, and, with byte fallback over a vocabulary of `<0xNN>` tokens only,
 * exactly what {@link ByteTokenizer} does. With `wordPieces` (a regex), the text is first cut into those pieces and
 * the rest between them, and `ignore_merges` looks each piece up whole before spelling it out: exactly what
 * {@link WordCharTokenizer} does.
 */
function mergelessBPE(
  tokens: readonly string[],
  specials: { pad: number; bos: number; eos: number; unk?: number },
  byteFallback: boolean,
  wordPieces?: string,
): HFFiles {
  const vocab = Object.fromEntries(tokens.map((token, id) => [token, id]));
  const specialIds = Object.values(specials).filter((id): id is number => id !== undefined);
  const addedTokens = specialIds.map((id) => ({ id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const fuse = { type: 'Fuse' };
  return {
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: wordPieces === undefined ? null : { type: 'Split', pattern: { Regex: wordPieces }, behavior: 'Isolated', invert: false },
      post_processor: null,
      decoder: byteFallback ? { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, fuse] } : fuse,
      model: {
        type: 'BPE', dropout: null, unk_token: specials.unk === undefined ? null : tokens[specials.unk],
        continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: byteFallback,
        ignore_merges: wordPieces !== undefined, vocab, merges: [],
      },
    },
    config: {
      tokenizer_class: 'PreTrainedTokenizerFast',
      add_bos_token: true, // this library's models train and sample with BOS first
      bos_token: tokens[specials.bos],
      eos_token: tokens[specials.eos],
      pad_token: tokens[specials.pad],
      ...(specials.unk === undefined ? {} : { unk_token: tokens[specials.unk] }),
      clean_up_tokenization_spaces: false,
    },
  };
}

function hfFilesOf(tokenizer: CharTokenizer | ByteTokenizer | WordCharTokenizer): HFFiles {
  const { padId: pad, bosId: bos, eosId: eos } = tokenizer;
  if (tokenizer instanceof WordCharTokenizer) return mergelessBPE(tokenizer.tokens, { pad, bos, eos, unk: tokenizer.unkId }, false, WORD_PIECE.source);
  return tokenizer instanceof CharTokenizer
    ? mergelessBPE(tokenizer.tokens, { pad, bos, eos, unk: tokenizer.unkId }, false)
    : mergelessBPE(tokenizer.tokens, { pad, bos, eos }, true);
}

/**
 * Writes `tokenizer` into `dir` as Hugging Face `tokenizer.json` + `tokenizer_config.json`, for exporting a
 * checkpoint other tools can load. An {@link HFTokenizer} writes its own files; a char, byte or word-char tokenizer
 * becomes a merge-free BPE giving the same ids, with one difference: its special-token names written inside a text
 * (`<eos>`) are then read as the special token, not as characters.
 */
export async function saveAsHFTokenizer(tokenizer: Tokenizer, dir: string): Promise<void> {
  if (tokenizer instanceof HFTokenizer) return tokenizer.save(dir);
  if (!(tokenizer instanceof CharTokenizer || tokenizer instanceof ByteTokenizer || tokenizer instanceof WordCharTokenizer)) {
    throw new Error(`saveAsHFTokenizer: no Hugging Face form for a tokenizer of kind "${tokenizer.kind}"`);
  }
  const { tokenizerJson, config } = hfFilesOf(tokenizer);
  writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeJsonAtomic(join(dir, 'tokenizer_config.json'), config);
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ByteTokenizer } from './byte';
import { CharTokenizer } from './char';
import { type DeclaredSpecialIds, HFTokenizer } from './hf';
import { WordCharTokenizer } from './word-char';
import { asObject, readJsonFile } from './json-file';
import type { Tokenizer } from './types';

/**
 * Loads the tokenizer a checkpoint folder holds: `tokenizer.json` is either this library's char/byte file
 * (`{ kind: "char" | "byte" | "word-char", ... }`) or a Hugging Face tokenizer.json (with tokenizer_config.json beside it).
 */
export function loadTokenizer(dir: string): Tokenizer {
  const path = join(dir, 'tokenizer.json');
  const json = asObject(readJsonFile(path), path);
  if ('kind' in json) {
    if (json.kind === 'char') return CharTokenizer.fromJSON(json, path);
    if (json.kind === 'byte') return new ByteTokenizer();
    if (json.kind === 'word-char') return WordCharTokenizer.fromJSON(json, path);
    throw new Error(`${path}: unknown tokenizer kind ${JSON.stringify(json.kind)} (known: char, byte, word-char, or a Hugging Face tokenizer.json)`);
  }
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? asObject(readJsonFile(configPath), configPath) : {};
  return new HFTokenizer(json, config, path, declaredSpecialIds(dir));
}

/** One id or a list of ids, or an Error naming the file and field. */
function idList(value: unknown, where: string): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const ids = Array.isArray(value) ? value : [value];
  if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0)) throw new Error(`${where} must be a token id or a list of token ids`);
  return ids as number[];
}

/**
 * The special-token ids a Hugging Face model folder declares: `bos_token_id`, `eos_token_id`, `pad_token_id` of
 * generation_config.json, else of config.json (EOS: the ids of both, generation_config.json's first).
 */
export function declaredSpecialIds(dir: string): DeclaredSpecialIds {
  const files = ['generation_config.json', 'config.json'].map((name) => join(dir, name)).filter((path) => existsSync(path));
  const jsons = files.map((path) => ({ path, json: asObject(readJsonFile(path), path) }));
  const first = (field: string): number | undefined => {
    for (const { path, json } of jsons) {
      const ids = idList(json[field], `${path}: field "${field}"`);
      if (ids) return ids[0];
    }
    return undefined;
  };
  const eos = jsons.flatMap(({ path, json }) => idList(json.eos_token_id, `${path}: field "eos_token_id"`) ?? []);
  return { bos: first('bos_token_id'), eos: eos.length > 0 ? [...new Set(eos)] : undefined, pad: first('pad_token_id'), source: files.join(' / ') || dir };
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ByteTokenizer } from './byte';
import { CharTokenizer } from './char';
import { HFTokenizer } from './hf';
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
  return new HFTokenizer(json, config, path);
}

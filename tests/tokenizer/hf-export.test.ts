import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteTokenizer, CharTokenizer, HFTokenizer, type Tokenizer, WordCharTokenizer, loadTokenizer, saveAsHFTokenizer } from '../../lib/tokenizer';
import { LLAMA_CONFIG, llamaStyleTokenizer, randomTexts } from './hf-fixtures';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-hf-export-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const texts = randomTexts(200, 5);

/** Exports `original` in Hugging Face form, loads it back (as an HFTokenizer) and checks both agree on every id. */
async function exportAndCompare(original: Tokenizer, name: string, sample: string[]): Promise<HFTokenizer> {
  const folder = join(dir, name);
  await saveAsHFTokenizer(original, folder);
  expect(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')).kind).toBeUndefined();
  const exported = loadTokenizer(folder);
  expect(exported).toBeInstanceOf(HFTokenizer);
  expect([exported.vocabSize, exported.bosId, exported.eosId, exported.padId]).toEqual([original.vocabSize, original.bosId, original.eosId, original.padId]);
  for (const text of sample) {
    const ids = original.encode(text, { addBos: true, addEos: true });
    expect(exported.encode(text, { addBos: true, addEos: true })).toEqual(ids);
    expect(exported.decode(ids)).toBe(original.decode(ids));
    expect(exported.decode(ids, { skipSpecial: true })).toBe(text);
  }
  return exported as HFTokenizer;
}

describe('saveAsHFTokenizer', () => {
  it('exports a ByteTokenizer as byte-fallback BPE giving the same ids', async () => {
    const exported = await exportAndCompare(new ByteTokenizer(), 'byte', texts);
    expect(exported.idToToken(0x41)).toBe('<0x41>');
    expect(exported.decode([0x61, 0xf0, 0x9f, 0x62])).toBe(new ByteTokenizer().decode([0x61, 0xf0, 0x9f, 0x62]));
  });

  it('exports a CharTokenizer as merge-free BPE giving the same ids, unknown characters included', async () => {
    const original = CharTokenizer.fromTexts(texts.slice(0, 100));
    const known = texts.slice(0, 100);
    await exportAndCompare(original, 'char', known);
    const exported = loadTokenizer(join(dir, 'char'));
    const unseen = 'xyz 🙃 ' + known[0];
    expect(original.encode(unseen)).toContain(original.unkId);
    expect(exported.encode(unseen)).toEqual(original.encode(unseen));
  });

  it('exports a WordCharTokenizer as a word-piece split + whole-piece lookup BPE giving the same ids', async () => {
    const rationales = ['The coin was flipped by Ann. So the coin is heads up.', 'The last letter of "Ann" is "n". So the answer is nx.'];
    const sample = [...rationales, ...texts.slice(0, 100)];
    const original = WordCharTokenizer.fromTexts(sample, 0.005);
    expect(original.words).toEqual(expect.arrayContaining([' coin', ' letter', 'The']));
    await exportAndCompare(original, 'word-char', sample);
    const exported = loadTokenizer(join(dir, 'word-char'));
    // a known word inside a longer piece is spelled out, not split into word + rest (" coins" is not " coin" + "s")
    for (const text of [' coins', ' coin', 'Thecoin flipped🙃']) expect(exported.encode(text)).toEqual(original.encode(text));
    expect(original.encode(' coins')).toHaveLength(6);
  });

  it('writes an HFTokenizer as itself', async () => {
    const original = new HFTokenizer(llamaStyleTokenizer('metaspace'), LLAMA_CONFIG);
    await exportAndCompare(original, 'hf', texts.filter((t) => !/^\s/.test(t)));
    expect(JSON.parse(readFileSync(join(dir, 'hf', 'tokenizer.json'), 'utf8'))).toEqual(llamaStyleTokenizer('metaspace'));
  });
});

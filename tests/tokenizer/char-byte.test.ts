import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteTokenizer, CharTokenizer, loadTokenizer } from '../../lib/tokenizer';
import { randomTexts } from './hf-fixtures';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-tokenizer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const varied = [
  ...randomTexts(100, 3),
  'Q: Take the last letters of "Elon Musk" and concatenate them. A: nk',
  'Tabs\tnew\nlines\r\n  and  double  spaces ',
  'accents: café, naïve, Ångström; CJK: 数学の問題; Greek: αβγ',
  'emoji 🙂👍🏽 and a family 👨‍👩‍👧 (ZWJ), flags 🇯🇵',
  'combining e\u0301 vs é, NUL \u0000 and DEL \u007f',
  '',
];

describe('CharTokenizer', () => {
  const tokenizer = CharTokenizer.fromTexts(['bca', 'ab🙂']);

  it('numbers specials first, then characters in code-point order', () => {
    expect(tokenizer.chars).toEqual(['a', 'b', 'c', '🙂']);
    expect([tokenizer.padId, tokenizer.bosId, tokenizer.eosId, tokenizer.unkId]).toEqual([0, 1, 2, 3]);
    expect(tokenizer.vocabSize).toBe(8);
    expect(tokenizer.encode('cab🙂', { addBos: true, addEos: true })).toEqual([1, 6, 4, 5, 7, 2]);
    expect(tokenizer.encode('axb')).toEqual([4, 3, 5]);
    expect(tokenizer.decode([1, 6, 3, 0, 2])).toBe('<bos>c<unk><pad><eos>');
    expect(tokenizer.decode([1, 6, 3, 0, 2], { skipSpecial: true })).toBe('c');
  });

  it('round-trips varied text exactly, including astral and combining characters', () => {
    const full = CharTokenizer.fromTexts(varied);
    for (const text of varied) {
      const ids = full.encode(text);
      expect(ids).not.toContain(full.unkId);
      expect(ids.length).toBe([...text].length);
      expect(full.decode(ids)).toBe(text);
    }
  });

  it('saves and loads back the same vocabulary through loadTokenizer', async () => {
    const full = CharTokenizer.fromTexts(varied);
    const folder = join(dir, 'char');
    await full.save(folder);
    expect(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')).kind).toBe('char');
    const loaded = loadTokenizer(folder);
    expect(loaded).toBeInstanceOf(CharTokenizer);
    expect(loaded.vocabSize).toBe(full.vocabSize);
    for (const text of varied) expect(loaded.encode(text)).toEqual(full.encode(text));
  });

  it('rejects ids outside the vocabulary and a corrupt vocabulary file', () => {
    expect(() => tokenizer.decode([4, 8])).toThrow(/id 8 at position 1 is outside the vocabulary \[0, 8\)/);
    const folder = join(dir, 'badchar');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify({ kind: 'char', version: 1, chars: ['a', 'a'] }));
    expect(() => loadTokenizer(folder)).toThrow(/badchar\/tokenizer\.json: CharTokenizer: character "a" appears twice/);
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify({ kind: 'char', version: 1, chars: ['ab'] }));
    expect(() => loadTokenizer(folder)).toThrow(/badchar\/tokenizer\.json: .*entry 0 "ab" is not one character/);
  });
});

describe('ByteTokenizer', () => {
  const tokenizer = new ByteTokenizer();

  it('maps text to its UTF-8 bytes, specials after 255', () => {
    expect(tokenizer.encode('Aé🙂', { addBos: true, addEos: true })).toEqual([257, 0x41, 0xc3, 0xa9, 0xf0, 0x9f, 0x99, 0x82, 258]);
    expect(tokenizer.decode([257, 0x41, 0xc3, 0xa9, 258, 256])).toBe('<bos>Aé<eos><pad>');
    expect(tokenizer.decode([257, 0x41, 0xc3, 0xa9, 258, 256], { skipSpecial: true })).toBe('Aé');
  });

  it('round-trips any text exactly', () => {
    for (const text of varied) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    // every code point class: ASCII, 2-, 3- and 4-byte sequences, across the whole range
    let all = '';
    for (let cp = 1; cp < 0x110000; cp += 97) if (cp < 0xd800 || cp > 0xdfff) all += String.fromCodePoint(cp);
    expect(tokenizer.decode(tokenizer.encode(all))).toBe(all);
  });

  it('decodes an invalid byte run a model might sample to U+FFFD instead of failing', () => {
    expect(tokenizer.decode([0x61, 0xf0, 0x9f, 0x62])).toBe('a\ufffdb');
  });

  it('saves its kind and loads back', async () => {
    const folder = join(dir, 'byte');
    await tokenizer.save(folder);
    const loaded = loadTokenizer(folder);
    expect(loaded).toBeInstanceOf(ByteTokenizer);
    expect(loaded.encode('hé')).toEqual([0x68, 0xc3, 0xa9]);
  });
});

describe('encodeBatch', () => {
  const tokenizer = CharTokenizer.fromTexts(['abcdef']); // a=4 ... f=9

  it('pads right by default to the longest row, with a matching attention mask', () => {
    const batch = tokenizer.encodeBatch(['abc', 'a', ''], { addEos: true });
    expect(batch.ids).toEqual([[4, 5, 6, 2], [4, 2, 0, 0], [2, 0, 0, 0]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]]);
    expect(batch.truncated).toEqual([]);
  });

  it('pads left for generation', () => {
    const batch = tokenizer.encodeBatch(['abc', 'a'], { addBos: true, padSide: 'left' });
    expect(batch.ids).toEqual([[1, 4, 5, 6], [0, 0, 1, 4]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1, 1], [0, 0, 1, 1]]);
  });

  it('truncates the body to maxLength keeping BOS/EOS, on the chosen side', () => {
    const keepEnd = tokenizer.encodeBatch(['abcdef', 'ab'], { addBos: true, addEos: true, maxLength: 5 });
    expect(keepEnd.ids).toEqual([[1, 7, 8, 9, 2], [1, 4, 5, 2, 0]]);
    expect(keepEnd.attentionMask).toEqual([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]);
    expect(keepEnd.truncated).toEqual([0]);
    const keepStart = tokenizer.encodeBatch(['abcdef', 'ab'], { addBos: true, maxLength: 3, truncateSide: 'right', padSide: 'left' });
    expect(keepStart.ids).toEqual([[1, 4, 5], [1, 4, 5]]);
    expect(keepStart.truncated).toEqual([0]);
  });

  it('handles a batch of 200k rows', () => {
    const batch = tokenizer.encodeBatch(Array.from({ length: 200_000 }, (_, i) => (i === 7 ? 'abc' : 'a')));
    expect(batch.ids.length).toBe(200_000);
    expect(batch.ids[7]).toEqual([4, 5, 6]);
    expect(batch.ids[8]).toEqual([4, 0, 0]);
  });

  it('rejects a maxLength that cannot hold the specials', () => {
    expect(() => tokenizer.encodeBatch(['a'], { addBos: true, addEos: true, maxLength: 1 })).toThrow(/maxLength 1 must be an integer of at least 2/);
  });
});

describe('loadTokenizer errors', () => {
  it('names the missing file', () => {
    expect(() => loadTokenizer(join(dir, 'nowhere'))).toThrow(/nowhere\/tokenizer\.json: file not found/);
  });

  it('names the file, line and column of malformed JSON', () => {
    const folder = join(dir, 'malformed');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'tokenizer.json'), '{\n  "kind": "char"\n  "chars": []\n}\n');
    expect(() => loadTokenizer(folder)).toThrow(/malformed\/tokenizer\.json: malformed JSON at line 3, column 3/);
    writeFileSync(join(folder, 'tokenizer.json'), '{"kind": "char", "chars": [a]}');
    expect(() => loadTokenizer(folder)).toThrow(/malformed\/tokenizer\.json: malformed JSON/);
  });

  it('names an unknown kind', () => {
    const folder = join(dir, 'kind');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'tokenizer.json'), '{"kind": "word"}');
    expect(() => loadTokenizer(folder)).toThrow(/kind\/tokenizer\.json: unknown tokenizer kind "word"/);
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { WordCharTokenizer } from '../../lib/tokenizer/word-char';

test('word-char tokenizer: frequent words are one token, rare ones spelled out; save -> load keeps the ids', async () => {
  const texts = ['The last letter of "Jeff" is "f".', 'The last letter of "Amy" is "y".', 'The coin is up.'];
  const tokenizer = WordCharTokenizer.fromTexts(texts, 0.5);
  // " last" and " letter" are in 2 of 3 texts (>= 50%); "Jeff" in one: spelled out.
  expect(tokenizer.words).toEqual(expect.arrayContaining([' last', ' letter', ' of', ' is']));
  expect(tokenizer.words).not.toContain('Jeff');
  const ids = tokenizer.encode(texts[0]);
  expect(ids.length).toBeLessThan(texts[0].length / 1.5);
  expect(tokenizer.decode(ids)).toBe(texts[0]);
  const dir = mkdtempSync(join(tmpdir(), 'rrl-wc-'));
  await tokenizer.save(dir);
  const loaded = loadTokenizer(dir);
  expect(loaded.kind).toBe('word-char');
  expect(loaded.encode(texts[1])).toEqual(tokenizer.encode(texts[1]));
  expect(loaded.vocabSize).toBe(tokenizer.vocabSize);
});

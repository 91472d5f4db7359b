import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HFTokenizer } from '../../lib/tokenizer/hf';
import { loadTokenizer } from '../../lib/tokenizer/load';

/**
 * A T5-layout tokenizer.json (SentencePiece Unigram, WhitespaceSplit + Metaspace, sentinels at the top of the
 * vocabulary) and the ids a hand-written Unigram Viterbi gives its texts, both written by
 * bench/torch/t5_tokenizer_reference.py.
 */
const FOLDER = join(__dirname, '..', 'fixtures', 'hf', 't5-tiny');
const reference: { text: string; ids: number[] }[] = JSON.parse(readFileSync(join(FOLDER, 'tokenizer-reference.json'), 'utf8'));

describe('T5 SentencePiece Unigram tokenizer.json', () => {
  const tokenizer = loadTokenizer(FOLDER) as HFTokenizer;

  test('ids equal the reference Viterbi segmentation for every text (unknowns fused, sentinels split out)', () => {
    expect(reference.length).toBeGreaterThan(8);
    for (const { text, ids } of reference) expect([text, tokenizer.encode(text)]).toEqual([text, ids]);
    // the texts reach unknown characters, sentinels and the largest-score (not longest-match) segmentation
    expect(reference.some((r) => r.ids.includes(2))).toBe(true);
    expect(reference.some((r) => r.ids.includes(tokenizer.tokenToId('<extra_id_0>')!))).toBe(true);
  });

  test('specials: <pad> 0, </s> 1, <unk> 2, <extra_id_0> the highest id; EOS appended on request', () => {
    expect([tokenizer.padId, tokenizer.eosId, tokenizer.vocabSize]).toEqual([0, 1, 39]);
    expect(tokenizer.tokenToId('<unk>')).toBe(2);
    expect([tokenizer.tokenToId('<extra_id_0>'), tokenizer.tokenToId('<extra_id_3>')]).toEqual([38, 35]);
    expect(tokenizer.encode('hello world', { addEos: true })).toEqual([21, 25, 1]);
  });

  test('decoding joins pieces at ▁ and skips specials on request', () => {
    expect(tokenizer.decode([21, 38, 25])).toBe('hello<extra_id_0> world');
    expect(tokenizer.decode([21, 38, 25, 1], { skipSpecial: true })).toBe('hello world');
    for (const text of ['hello world', 'a cat is singing', 'world hello the cat']) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  test('a batch of sources is right-padded with <pad>', () => {
    const batch = tokenizer.encodeBatch(['the cat', 'a cat is singing'], { addEos: true, padSide: 'right' });
    expect(batch.ids).toEqual([[17, 30, 1, 0, 0, 0], [18, 30, 31, 34, 33, 1]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]]);
  });
});

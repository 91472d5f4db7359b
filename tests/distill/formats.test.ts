import { generateSyntheticTask } from '../../lib/data/synthetic';
import type { RationaleRecord } from '../../lib/data/types';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { answerFromGeneration, encodeTrainingText, trainingTexts } from '../../lib/train/formats';
import { selectRecords, padBatch } from '../../lib/train/distill';

const [example] = generateSyntheticTask('last_letters', { size: 1, steps: 2, seed: 3 });
const record: RationaleRecord = {
  exampleId: example.id, rationale: 'The last letter of "A" is "a".', answer: example.answers[0], correct: true,
  strategy: 'x', model: 'y',
};
const tokenizer = CharTokenizer.fromTexts([example.question, record.rationale, example.answers[0], '#->[]']);

describe('target formats', () => {
  test('Fine-tune-CoT: the loss mask covers exactly " rationale --> answer" and EOS', () => {
    const [text] = trainingTexts(example, record, 'fine-tune-cot');
    expect(text.prompt).toBe(`${example.question} ###`);
    expect(text.target).toBe(` ${record.rationale} --> ${example.answers[0]}`);
    const encoded = encodeTrainingText(tokenizer, text, 1000);
    const promptLength = 1 + tokenizer.encode(text.prompt).length;
    const targeted = encoded.ids.filter((_, t) => encoded.targetMask[t] > 0);
    expect(targeted).toEqual([...tokenizer.encode(text.target), tokenizer.eosId]);
    expect(encoded.targetMask.slice(0, promptLength).every((w) => w === 0)).toBe(true);
    expect(encoded.ids[0]).toBe(tokenizer.bosId);
    expect(tokenizer.decode(targeted, { skipSpecial: true })).toBe(text.target);
  });

  test('MT-CoT and MT-Re give two tasks weighted alpha and 1 - alpha', () => {
    const cot = trainingTexts(example, record, 'mt-cot', 0.3);
    expect(cot.map((t) => t.weight)).toEqual([0.3, 0.7]);
    expect(cot[0]).toMatchObject({ prompt: `[answer] ${example.question} -->`, target: ` ${example.answers[0]}` });
    expect(cot[1].target).toBe(` ${record.rationale} --> ${example.answers[0]}`);
    const re = trainingTexts(example, record, 'mt-re', 0.3);
    expect(re[1]).toMatchObject({ prompt: `[explain] ${example.question}`, target: ` ${record.rationale}` });
    const encoded = encodeTrainingText(tokenizer, re[0], 1000);
    expect(new Set(encoded.targetMask.filter((w) => w > 0))).toEqual(new Set([0.3]));
  });

  test('a long row loses the start of its prompt, never the target, and keeps BOS', () => {
    const [text] = trainingTexts(example, record, 'fine-tune-cot');
    const target = [...tokenizer.encode(text.target), tokenizer.eosId];
    const encoded = encodeTrainingText(tokenizer, text, target.length + 6);
    expect(encoded.truncated).toBe(true);
    expect(encoded.ids).toHaveLength(target.length + 6);
    expect(encoded.ids[0]).toBe(tokenizer.bosId);
    expect(encoded.ids.slice(1, 6)).toEqual(tokenizer.encode(text.prompt).slice(-5));
    expect(encoded.ids.slice(6)).toEqual(target);
  });

  test('the answer is read after the last arrow', () => {
    expect(answerFromGeneration(' a --> b --> nk ')).toEqual({ rationale: 'a --> b', answer: 'nk' });
    expect(answerFromGeneration('no arrow')).toEqual({ rationale: 'no arrow', answer: '' });
  });

  test('record selection: correct-only filter, dedupe, other split', () => {
    const wrong = { ...record, correct: false, rationale: 'x' };
    const other = { ...record, exampleId: 'elsewhere' };
    const { records, stats } = selectRecords([record, record, wrong, other], [example], { filter: 'correct', dedupe: true });
    expect(records).toEqual([record]);
    expect(stats).toEqual({ total: 4, kept: 1, incorrect: 1, duplicate: 1, otherSplit: 1 });
    expect(selectRecords([record, record, wrong], [example], { filter: 'all', dedupe: false }).records).toHaveLength(3);
  });

  test('padding is right-sided, masked from attention and loss', () => {
    const batch = padBatch([{ ids: [1, 2, 3], targetMask: [0, 1, 1], truncated: false }, { ids: [1, 2], targetMask: [0, 1], truncated: false }], 9);
    expect(batch).toEqual({ ids: [[1, 2, 3], [1, 2, 9]], targetMask: [[0, 1, 1], [0, 1, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]] });
  });
});

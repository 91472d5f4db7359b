import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import type { Example, RationaleRecord } from '../../lib/data/types';
import { T5Model } from '../../lib/model/t5';
import type { T5Config } from '../../lib/model/t5-config';
import { t5Generate } from '../../lib/model/t5-generate';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { trainingTexts } from '../../lib/train/formats';
import { encodeSeq2SeqText, seq2seqBatch, Seq2SeqTrainer } from '../../lib/train/seq2seq';

beforeAll(async () => {
  await initBackend('wasm');
});

const examples: Example[] = [
  { id: 'a', question: 'ab?', answers: ['ba'], answerType: 'text' },
  { id: 'b', question: 'cd?', answers: ['dc'], answerType: 'text' },
];
const records: RationaleRecord[] = [
  { exampleId: 'a', rationale: 'b then a', answer: 'ba', correct: true, strategy: 'zero-shot-cot', model: 't' },
  { exampleId: 'b', rationale: 'd then c', answer: 'dc', correct: true, strategy: 'zero-shot-cot', model: 't' },
];
const tokenizer = CharTokenizer.fromTexts(['abcd? then-> ###[answer][explain]']);
const config: T5Config = { arch: 't5', vocabSize: tokenizer.vocabSize, dModel: 32, nHeads: 2, dFF: 48, nLayers: 1, nDecoderLayers: 1, relativeBuckets: 8, relativeMaxDistance: 16, maxSeqLen: 40, decoderStartId: tokenizer.padId };
const options = { schedule: { peakLr: 1e-2, warmupSteps: 1, totalSteps: 200 }, weightDecay: 0 };

test('the distillation formats become source -> target pairs, EOS-terminated, weighted per task', () => {
  const eos = tokenizer.eosId;
  const [single] = trainingTexts(examples[0], records[0], 'fine-tune-cot').map((t) => encodeSeq2SeqText(tokenizer, t, 40));
  expect(single.source).toEqual([...tokenizer.encode('ab? ###'), eos]);
  expect(single.target).toEqual([...tokenizer.encode('b then a --> ba'), eos]);
  const [answer, explain] = trainingTexts(examples[0], records[0], 'mt-re', 0.3).map((t) => encodeSeq2SeqText(tokenizer, t, 40));
  expect([answer.target, answer.weight]).toEqual([[...tokenizer.encode('ba'), eos], 0.3]);
  expect([explain.source, explain.target, explain.weight]).toEqual([[...tokenizer.encode('[explain] ab?'), eos], [...tokenizer.encode('b then a'), eos], 0.7]);
  const cut = encodeSeq2SeqText(tokenizer, { prompt: 'abcdabcd ###', target: 'ba', weight: 1 }, 5);
  expect([cut.source, cut.target, cut.truncated]).toEqual([[...tokenizer.encode(' ###'), eos], [...tokenizer.encode('ba'), eos], true]);
});

test('micro-batches give the same update as the whole batch', async () => {
  const batch = seq2seqBatch(records.flatMap((r, i) => trainingTexts(examples[i], r, 'mt-cot').map((t) => encodeSeq2SeqText(tokenizer, t, 40))), tokenizer.padId);
  const whole = T5Model.create(config, { seed: 4 });
  const split = T5Model.create(config, { seed: 4 });
  const [a, b] = [new Seq2SeqTrainer(whole, options), new Seq2SeqTrainer(split, { ...options, microBatchSize: 1 })];
  const [ra, rb] = [await a.step(batch), await b.step(batch)];
  expect(rb.loss).toBeCloseTo(ra.loss, 5);
  expect(rb.gradNorm).toBeCloseTo(ra.gradNorm, 4);
  for (const name of Object.keys(whole.weights)) {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(whole.weights[name], split.weights[name]))).dataSync()[0]);
    expect([name, diff < 1e-5]).toEqual([name, true]);
  }
  a.dispose();
  b.dispose();
  whole.dispose();
  split.dispose();
});

test('a tiny T5 learns fine-tune-cot pairs: greedy generation writes the rationale and answer; steps are leak-free', async () => {
  const pairs = records.flatMap((r, i) => trainingTexts(examples[i], r, 'fine-tune-cot').map((t) => encodeSeq2SeqText(tokenizer, t, 40)));
  const batch = seq2seqBatch(pairs, tokenizer.padId);
  const model = T5Model.create(config, { seed: 1 });
  const trainer = new Seq2SeqTrainer(model, options);
  const first = await trainer.step(batch);
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 120 && last.loss > 0.01; i++) last = await trainer.step(batch);
  expect(tf.memory().numTensors).toBe(before);
  expect(last.loss).toBeLessThan(0.05);
  expect(first.loss).toBeGreaterThan(1);
  const generations = await t5Generate(model, tokenizer, ['ab? ###', 'cd? ###'], { maxNewTokens: 30, greedy: true });
  expect(generations.map((g) => [g.text, g.finishReason])).toEqual([['b then a --> ba', 'eos'], ['d then c --> dc', 'eos']]);
  trainer.dispose();
  model.dispose();
});

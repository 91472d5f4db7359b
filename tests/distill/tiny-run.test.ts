import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import type { Example, RationaleRecord } from '../../lib/data/types';
import { CausalLM } from '../../lib/model/causal-lm';
import { Random } from '../../lib/random';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { accuracy, predictWithStudent } from '../../lib/eval/predict';
import { distill, encodeDistillSet, selectRecords } from '../../lib/train/distill';
import { Trainer } from '../../lib/train/trainer';

/** A small generated task: is a digit even? The teacher's rationale states the digit's parity. */
function parityTask(size: number, seed: number): { examples: Example[]; records: RationaleRecord[] } {
  const random = new Random(seed);
  const examples: Example[] = [];
  const records: RationaleRecord[] = [];
  for (let i = 0; i < size; i++) {
    const digit = random.int(10);
    const example: Example = { id: `parity/${i}`, question: `${digit} even?`, answers: [digit % 2 === 0 ? 'yes' : 'no'], answerType: 'yes-no' };
    examples.push(example);
    // One in five rationales gets the parity wrong (and so the answer): the correct-only filter drops them.
    const even = (digit % 2 === 0) !== random.next() < 0.2;
    const answer = even ? 'yes' : 'no';
    records.push({ exampleId: example.id, rationale: `${digit} is ${even ? 'even' : 'odd'}.`, answer, correct: answer === example.answers[0], strategy: 'test', model: 'test' });
  }
  return { examples, records };
}

test('distilling teacher rationales lifts a tiny student far above chance on a generated task', async () => {
  await initBackend();
  const { examples, records } = parityTask(360, 5);
  const [train, test] = [examples.slice(0, 300), examples.slice(300)];
  const { records: kept, stats } = selectRecords(records, train, { filter: 'correct', dedupe: true });
  expect(stats.incorrect).toBeGreaterThan(30);
  const tokenizer = CharTokenizer.fromTexts(['0123456789 even? is odd.#->yn']);
  const { rows } = encodeDistillSet(kept, train, tokenizer, { format: 'fine-tune-cot', alpha: 0.5, maxLength: 64 });
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 64 }, { seed: 3 });
  const epochs = 12;
  const trainer = new Trainer(model, {
    schedule: { peakLr: 1e-2, warmupSteps: 10, totalSteps: epochs * Math.ceil(rows.length / 32) }, weightDecay: 0.01,
  });
  const options = { format: 'fine-tune-cot' as const, maxNewTokens: 24 };
  const before = accuracy(await predictWithStudent(model, tokenizer, test, options));
  const tensorsBefore = tf.memory().numTensors;
  const losses: number[] = [];
  const { state } = await distill(trainer, tokenizer, rows, test,
    { epochs, batchSize: 32, evalEvery: 6, seed: 0, checkpointEvery: 1000, ...options },
    { onStep: (s) => losses.push(s.loss) });
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 4);
  expect(before).toBeLessThan(0.7);
  expect(state.history.map((h) => h.epoch)).toEqual([6, 12]);
  // Chance is 0.5 on yes/no.
  expect(state.history[1].testAccuracy).toBeGreaterThanOrEqual(0.9);
  expect(state.best?.testAccuracy).toBe(Math.max(...state.history.map((h) => h.testAccuracy)));
  trainer.dispose();
  model.dispose();
});

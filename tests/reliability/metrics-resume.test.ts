/** After a resume, metrics.jsonl holds each step of each stream once: the resumed attempt's values win. */
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsSink } from '../../lib/log/metrics';

test('a resumed stage rewrites the steps after its checkpoint instead of repeating them', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'rrl-metrics-')), 'metrics.jsonl');
  const first = new MetricsSink(path);
  first.write({ stage: 'teacher', step: 1, requests: 4 });
  for (let step = 1; step <= 5; step++) first.write({ stage: 'distill', step, loss: 10 - step });
  first.write({ stage: 'distill-eval', step: 4, accuracy: 0.5 });
  appendFileSync(path, '{"stage": "distill", "st'); // killed mid-line

  // the process dies after step 5; the last checkpoint was step 3, so the next attempt logs 4, 5, 6 again
  const resumed = new MetricsSink(path);
  for (let step = 4; step <= 6; step++) resumed.write({ stage: 'distill', step, loss: 100 + step });
  resumed.write({ stage: 'distill-eval', step: 6, accuracy: 0.75 });

  const records = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { stage: string; step: number; loss?: number; accuracy?: number });
  const distill = records.filter((r) => r.stage === 'distill');
  expect(distill.map((r) => [r.step, r.loss])).toEqual([[1, 9], [2, 8], [3, 7], [4, 104], [5, 105], [6, 106]]);
  expect(records.filter((r) => r.stage === 'distill-eval').map((r) => [r.step, r.accuracy])).toEqual([[4, 0.5], [6, 0.75]]);
  expect(records.filter((r) => r.stage === 'teacher')).toHaveLength(1);
});

test('a line torn by a crash is cut before the next record, which is kept whole', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'rrl-metrics-')), 'metrics.jsonl');
  new MetricsSink(path).write({ stage: 'rl', step: 1, reward: 0.5 });
  appendFileSync(path, '{"stage": "rl", "st');
  new MetricsSink(path).write({ stage: 'rl', step: 2, reward: 0.25 });
  const records = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { step: number; reward: number });
  expect(records.map((r) => [r.step, r.reward])).toEqual([[1, 0.5], [2, 0.25]]);
});

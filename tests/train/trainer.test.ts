import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLM } from '../../lib/model/causal-lm';
import type { ModelConfig } from '../../lib/model/config';
import { loadCheckpoint, saveCheckpoint } from '../../lib/model/checkpoint';
import { generate } from '../../lib/model/sampling';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { type TrainBatch, Trainer } from '../../lib/train/trainer';

const text = 'the cat sat on the mat. the dog ate the log. ';
const tokenizer = CharTokenizer.fromTexts([text]);
const config: ModelConfig = { arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 48 };
const schedule = { peakLr: 2e-2, warmupSteps: 5, totalSteps: 120, minLr: 2e-3 };

/** Rows of `length` tokens cut from the repeated text at different offsets; loss on every token after the first 4. */
function batchOf(rows: number, length: number, offset = 0): TrainBatch {
  const ids = tokenizer.encode(text.repeat(4));
  const starts = Array.from({ length: rows }, (_, r) => (offset + r * 7) % text.length);
  return {
    ids: starts.map((s) => ids.slice(s, s + length)),
    targetMask: starts.map(() => Array.from({ length }, (_, t) => (t >= 4 ? 1 : 0))),
  };
}

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

test('micro-batches accumulate to the full-batch update', async () => {
  const batch = batchOf(4, 20);
  // uneven target counts per row so the token weighting matters
  batch.targetMask[3] = batch.targetMask[3].map((m, t) => (t >= 15 ? m : 0));
  const results: { result: { loss: number; gradNorm: number; lr: number }; weights: number[] }[] = [];
  for (const microBatchSize of [4, 1, 3]) {
    const model = CausalLM.create(config, { seed: 2 });
    const trainer = new Trainer(model, { schedule, microBatchSize });
    const result = await trainer.step(batch);
    results.push({ result, weights: Array.from(model.weights['layers.1.attn.wq'].dataSync()) });
    trainer.dispose();
    model.dispose();
  }
  for (const other of results.slice(1)) {
    expect(other.result.loss).toBeCloseTo(results[0].result.loss, 5);
    expect(other.result.gradNorm).toBeCloseTo(results[0].result.gradNorm, 5);
    const worst = other.weights.reduce((m, x, i) => Math.max(m, Math.abs(x - results[0].weights[i])), 0);
    expect(worst).toBeLessThan(1e-6);
  }
  expect(results[0].result.lr).toBeCloseTo(4e-3, 10); // warmup: 2e-2 * 1/5
});

test('tf.memory().numTensors does not grow over 20 training steps', async () => {
  const model = CausalLM.create(config, { seed: 1 });
  const trainer = new Trainer(model, { schedule, microBatchSize: 2 });
  await trainer.step(batchOf(4, 24));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) {
    await trainer.step(batchOf(4, 24, i));
    expect(tf.memory().numTensors).toBe(before);
  }
  trainer.dispose();
  model.dispose();
});

test('dispose frees every tensor and byte the trainer made (AdamW moments included)', async () => {
  const model = CausalLM.create(config, { seed: 1 });
  const before = tf.memory();
  const trainer = new Trainer(model, { schedule });
  await trainer.step(batchOf(2, 16));
  trainer.dispose();
  const after = tf.memory();
  expect(after.numTensors).toBe(before.numTensors);
  expect(after.numBytes).toBe(before.numBytes);
  model.dispose();
});

test('a tiny model overfits a small text (loss < 0.15) and then recites it; resuming from a checkpoint continues exactly', async () => {
  const model = CausalLM.create(config, { seed: 0 });
  const trainer = new Trainer(model, { schedule, weightDecay: 0 });
  let loss = Infinity;
  for (let step = 0; step < 120; step++) ({ loss } = await trainer.step(batchOf(6, 32, step * 3)));
  expect(loss).toBeLessThan(0.15);
  const [g] = await generate(model, tokenizer, ['the cat sat'], { maxNewTokens: 12, greedy: true });
  expect(g.text).toBe(' on the mat.');

  // save with optimizer state, take 2 more steps; loading and taking the same 2 steps must give the same weights
  const dir = mkdtempSync(join(tmpdir(), 'rrl-resume-'));
  await saveCheckpoint(dir, { model, tokenizer, optimizer: trainer.optimizer, extra: { step: trainer.stepsDone } });
  for (const offset of [1, 2]) await trainer.step(batchOf(4, 32, offset));
  const loaded = await loadCheckpoint(dir);
  const resumed = new Trainer(loaded.model, { schedule, weightDecay: 0 });
  resumed.restore(loaded.optimizerState!);
  expect(resumed.stepsDone).toBe(120);
  expect(loaded.extra).toEqual({ step: 120 });
  for (const offset of [1, 2]) await resumed.step(batchOf(4, 32, offset));
  for (const [name, v] of Object.entries(model.weights)) {
    expect(Array.from(loaded.model.weights[name].dataSync())).toEqual(Array.from(v.dataSync()));
  }
  rmSync(dir, { recursive: true, force: true });
  [trainer, resumed, model, loaded.model].forEach((x) => x.dispose());
});

test('bad batches name the field and row', async () => {
  const model = CausalLM.create(config);
  const trainer = new Trainer(model, { schedule });
  const batch = batchOf(2, 10);
  await expect(trainer.step({ ...batch, targetMask: [batch.targetMask[0], [1, 1]] })).rejects.toThrow('batch "targetMask" row 1 has 2 entries, expected 10');
  await expect(trainer.step({ ...batch, targetMask: batch.targetMask.map((r) => r.map(() => 0)) })).rejects.toThrow('selects no target token');
  trainer.dispose();
  model.dispose();
});

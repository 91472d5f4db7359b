/** The run's native T5 checkpoints: weights, value head, LoRA adapter and optimizer state through real files. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { loadCheckpoint, loadStudentCheckpoint, saveCheckpoint } from '../../lib/model/checkpoint';
import { LoraAdapter } from '../../lib/model/lora';
import { T5Model } from '../../lib/model/t5';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { Seq2SeqTrainer } from '../../lib/train/seq2seq';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-t5-checkpoint-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?#']);
const config = { arch: 't5' as const, vocabSize: tokenizer.vocabSize, dModel: 16, nHeads: 2, dFF: 24, nLayers: 1, nDecoderLayers: 2, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24, feedForward: 'relu' as const, tieEmbeddings: true };

test('a T5 student with LoRA and optimizer state comes back bit-exact and trains on identically', async () => {
  const model = T5Model.create(config, { seed: 3 });
  LoraAdapter.attach(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q', 'wi'] }, { seed: 1 });
  const schedule = { schedule: { peakLr: 1e-2, warmupSteps: 0, totalSteps: 10 } };
  const trainer = new Seq2SeqTrainer(model, schedule);
  const rows = [{ source: tokenizer.encode('xyz?', { addEos: true }), target: tokenizer.encode('abc', { addEos: true }), weight: 1, truncated: false }];
  await trainer.stepRows(rows, tokenizer.padId);
  const dir = join(root, 'last');
  await saveCheckpoint(dir, { model, tokenizer, optimizer: trainer.optimizer, extra: { step: 1 } });
  expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model).toMatchObject({ arch: 't5', nDecoderLayers: 2, feedForward: 'relu', tieEmbeddings: true });

  const loaded = await loadStudentCheckpoint(dir);
  expect(loaded.model).toBeInstanceOf(T5Model);
  const restored = loaded.model as T5Model;
  const [before, after] = [await model.toArrays(), await restored.toArrays()];
  expect([...after.keys()]).toEqual([...before.keys()]); // value head included
  for (const [name, { data }] of before) expect(after.get(name)!.data).toEqual(data);
  for (const [name, v] of Object.entries(model.adapter!.weights)) expect(restored.adapter!.weights[name].dataSync()).toEqual(v.dataSync());
  expect(loaded.extra).toEqual({ step: 1 });
  // the next step from the checkpoint equals the next step of the original
  const resumed = new Seq2SeqTrainer(restored, schedule);
  resumed.restore(loaded.optimizerState!, dir);
  const [a, b] = [await trainer.stepRows(rows, tokenizer.padId), await resumed.stepRows(rows, tokenizer.padId)];
  expect(b).toEqual(a);
  for (const [name, v] of Object.entries(model.adapter!.weights)) expect(restored.adapter!.weights[name].dataSync()).toEqual(v.dataSync());
  trainer.dispose();
  resumed.dispose();
  model.dispose();
  restored.dispose();
});

test('a T5 checkpoint read as decoder-only, or with a bad T5 field, is refused naming the file and field', async () => {
  const model = T5Model.create(config, { seed: 3 });
  const dir = join(root, 'plain');
  await saveCheckpoint(dir, { model, tokenizer });
  model.dispose();
  const before = tf.memory().numTensors;
  await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: a T5 (encoder-decoder) checkpoint; this reader takes decoder-only models (load it with loadStudentCheckpoint)`);
  expect(tf.memory().numTensors).toBe(before);
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...json, model: { ...json.model, relativeBuckets: 7 } }));
  await expect(loadStudentCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')} (field "model"): field "relativeBuckets" must be even`);
});

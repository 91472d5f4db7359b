/**
 * Logits of Hugging Face folders written by bench/torch/hf_reference.py (random weights, its own PyTorch forward
 * written from the transformers definitions) against this library's forward. Regenerate the fixtures with
 * `/usr/bin/python3 bench/torch/hf_reference.py fixtures tests/fixtures/hf`.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { importHFCheckpoint } from '../../lib/model/hf';

const FIXTURES = join(__dirname, '..', 'fixtures', 'hf');

interface Reference {
  ids: number[][];
  shape: [number, number, number];
  logits: number[];
}

export function readReference(name: string): Reference {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as Reference;
}

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

test.each([
  ['gpt2', 'gpt2', 'F32, one file'],
  ['gpt2-untied', 'gpt2', 'F32, lm_head.weight of its own'],
  ['llama-sharded-bf16', 'llama', 'BF16, two shards, grouped-query attention, untied head'],
  ['qwen2-f16', 'qwen2', 'F16, q/k/v biases, grouped-query attention, tied head'],
])('%s (%s layout, %s): logits match the PyTorch reference to 1e-4', async (name, arch) => {
  const reference = readReference(name);
  const { model } = await importHFCheckpoint(join(FIXTURES, name));
  expect(model.config.arch).toBe(arch);
  const before = tf.memory().numTensors;
  const logits = tf.tidy(() => model.forward(tf.tensor2d(reference.ids, undefined, 'int32')).logits);
  expect(logits.shape).toEqual(reference.shape);
  const ours = logits.dataSync();
  let largest = 0;
  reference.logits.forEach((value, i) => (largest = Math.max(largest, Math.abs(value - ours[i]))));
  expect(largest).toBeLessThan(1e-4);
  // the logits are not all alike (a forward that ignored its weights would not pass the bound above anyway)
  expect(Math.max(...reference.logits) - Math.min(...reference.logits)).toBeGreaterThan(1);
  logits.dispose();
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});

/**
 * LoRA on the Hugging Face fixtures of bench/torch/hf_reference.py: an untrained adapter's merged export still
 * matches the independent PyTorch logits, and a trained one's export reloads to the adapted model's logits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { exportHFCheckpoint, importHFCheckpoint } from '../../lib/model/hf';
import { defaultTargetModules, LoraAdapter } from '../../lib/model/lora';

const FIXTURES = join(__dirname, '..', 'fixtures', 'hf');
/** reference.json of a fixture: the input ids and the reference forward's logits. */
function readReference(name: string): { ids: number[][]; logits: number[] } {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as { ids: number[][]; logits: number[] };
}

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-lora-export-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function largestDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
  return largest;
}

test.each(['gpt2', 'llama-sharded-bf16', 'qwen2-f16'])('%s: merged exports against the reference and the adapted model', async (name) => {
  const reference = readReference(name);
  const ids = () => tf.tensor2d(reference.ids, undefined, 'int32');
  const { model } = await importHFCheckpoint(join(FIXTURES, name));
  const adapter = LoraAdapter.attach(model, { rank: 4, alpha: 8, dropout: 0, targetModules: model.config.arch === 'gpt2' ? ['c_attn', 'c_fc'] : [...defaultTargetModules(model.config), 'down_proj'] });

  // B = 0: the export is the base model, which the reference forward computed
  await exportHFCheckpoint(join(root, `${name}-untrained`), model);
  const untrained = (await importHFCheckpoint(join(root, `${name}-untrained`))).model;
  expect(largestDiff(tf.tidy(() => untrained.forward(ids()).logits.dataSync()), reference.logits)).toBeLessThan(1e-4);
  untrained.dispose();

  // trained adapters: the merged export reloads to the adapted logits
  let seed = 1;
  for (const [n, v] of Object.entries(adapter.weights)) if (n.endsWith('lora_b')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++)));
  const adapted = tf.tidy(() => model.forward(ids()).logits.dataSync());
  expect(largestDiff(adapted, reference.logits)).toBeGreaterThan(1e-2);
  await exportHFCheckpoint(join(root, `${name}-trained`), model);
  const merged = (await importHFCheckpoint(join(root, `${name}-trained`))).model;
  expect(merged.adapter).toBeUndefined();
  expect(largestDiff(tf.tidy(() => merged.forward(ids()).logits.dataSync()), adapted)).toBeLessThan(1e-4);
  merged.dispose();
  model.dispose();
});

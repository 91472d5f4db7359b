import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../lib/model/safetensors';
import type { T5Model } from '../../lib/model/t5';
import { exportT5Checkpoint, importT5Checkpoint, t5WeightsFromHF } from '../../lib/model/t5-hf';
import { t5Generate } from '../../lib/model/t5-generate';
import { maskedCrossEntropy } from '../../lib/train/loss';

/**
 * The fixtures are written by bench/torch/t5_reference.py (PyTorch, a forward written from transformers'
 * modeling_t5): t5-tiny is the v1.1/Flan-T5 layout (gated-GELU, untied head), t5-tiny-v1 the v1.0 layout (ReLU,
 * tied head scaled by d^-0.5). reference.json holds inputs, logits and autograd gradients of the label loss.
 */
const FIXTURES = join(__dirname, '..', 'fixtures', 'hf');

interface Reference {
  source_ids: number[][];
  source_mask: number[][];
  decoder_ids: number[][];
  labels: number[][];
  logits_shape: number[];
  logits: number[];
  loss: number;
  gradients: Record<string, number[]>;
}

const reference = (folder: string): Reference => JSON.parse(readFileSync(join(FIXTURES, folder, 'reference.json'), 'utf8'));

function logitsOf(model: T5Model, ref: Reference): Float32Array {
  return tf.tidy(() =>
    model.forward(tf.tensor2d(ref.source_ids, undefined, 'int32'), tf.tensor2d(ref.decoder_ids, undefined, 'int32'), {
      sourceMask: tf.tensor2d(ref.source_mask, undefined, 'int32'),
    }).logits.dataSync() as Float32Array);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe.each(['t5-tiny', 't5-tiny-v1'])('%s (HF layout, PyTorch reference)', (folder) => {
  const ref = reference(folder);

  test('logits match the reference forward to 1e-4', async () => {
    const { model } = await importT5Checkpoint(join(FIXTURES, folder));
    expect(model.config.feedForward).toBe(folder === 't5-tiny' ? 'gated-gelu' : 'relu');
    expect(model.config.tieEmbeddings).toBe(folder !== 't5-tiny');
    const logits = logitsOf(model, ref);
    expect(Math.max(...ref.logits.map(Math.abs))).toBeGreaterThan(1); // logits with signal, not all near 0
    expect(maxDiff(logits, ref.logits)).toBeLessThan(1e-4);
    model.dispose();
  });

  test('gradients of the label loss match PyTorch autograd for every tensor', async () => {
    const { model } = await importT5Checkpoint(join(FIXTURES, folder));
    const expected = t5WeightsFromHF(model.config, new Map(Object.entries(ref.gradients).map(([name, data]) => [name, { shape: readSafetensors(join(FIXTURES, folder, 'model.safetensors')).get(name)!.shape, data: Float32Array.from(data) }])), 'reference.json');
    const labels = ref.labels.map((row) => row.map((id) => Math.max(id, 0)));
    const labelMask = ref.labels.map((row) => row.map((id) => (id < 0 ? 0 : 1)));
    const loss = () => tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d(ref.source_ids, undefined, 'int32'), tf.tensor2d(ref.decoder_ids, undefined, 'int32'), { sourceMask: tf.tensor2d(ref.source_mask, undefined, 'int32') });
      return maskedCrossEntropy(logits, tf.tensor2d(labels, undefined, 'int32'), tf.tensor2d(labelMask));
    });
    const { value, grads } = tf.variableGrads(loss, Object.values(model.weights));
    expect(value.dataSync()[0]).toBeCloseTo(ref.loss, 4);
    expect(expected.size).toBe(Object.keys(model.weights).length);
    for (const [name, v] of Object.entries(model.weights)) {
      const want = expected.get(name)!.data;
      const scale = Math.max(...Array.from(want, Math.abs));
      expect([name, scale > 1e-4]).toEqual([name, true]);
      expect([name, maxDiff(grads[v.name].dataSync(), want) / scale < 1e-3]).toEqual([name, true]);
    }
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  });

  test('export writes the HF key names and reloads to the same logits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 't5-export-'));
    try {
      const { model } = await importT5Checkpoint(join(FIXTURES, folder));
      await exportT5Checkpoint(join(dir, 'out'), model);
      const names = (file: string) => readSafetensorsHeader(file).entries.map((e) => e.name).sort();
      expect(names(join(dir, 'out', 'model.safetensors'))).toEqual(names(join(FIXTURES, folder, 'model.safetensors')));
      const { model: again } = await importT5Checkpoint(join(dir, 'out'));
      expect(maxDiff(logitsOf(again, ref), logitsOf(model, ref))).toBe(0);
      model.dispose();
      again.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('a HF T5 folder with its Unigram tokenizer generates from text; export keeps the tokenizer', async () => {
  const { model, tokenizer } = await importT5Checkpoint(join(FIXTURES, 't5-tiny'));
  expect(tokenizer?.eosId).toBe(1);
  const options = { maxNewTokens: 6, greedy: true, returnLogprobs: true };
  const [a, b] = await t5Generate(model, tokenizer!, ['hello world', 'the cat'], options);
  const [alone] = await t5Generate(model, tokenizer!, ['the cat'], { ...options, useCache: false });
  expect(b.tokenIds).toEqual(alone.tokenIds); // batched (padded) and cached equals alone and uncached
  expect(a.tokenIds.length).toBeGreaterThan(0);
  const dir = mkdtempSync(join(tmpdir(), 't5-export-'));
  try {
    await exportT5Checkpoint(dir, model, tokenizer);
    const again = await importT5Checkpoint(dir);
    expect(again.tokenizer!.encode('hello<extra_id_0> world')).toEqual(tokenizer!.encode('hello<extra_id_0> world'));
    again.model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  model.dispose();
});

describe('bad T5 folders get one error naming the file and the field or tensor', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 't5-bad-'));
    copyFileSync(join(FIXTURES, 't5-tiny', 'model.safetensors'), join(dir, 'model.safetensors'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const config = () => JSON.parse(readFileSync(join(FIXTURES, 't5-tiny', 'config.json'), 'utf8'));

  test('unsupported feed-forward, missing field', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config(), feed_forward_proj: 'gated-silu' }));
    await expect(importT5Checkpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: field "feed_forward_proj" is "gated-silu"; supported: relu, gated-gelu`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config(), d_kv: undefined }));
    await expect(importT5Checkpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: field "d_kv" is missing`);
  });

  test('a missing tensor, a tensor of the wrong shape', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config()));
    const tensors = readSafetensors(join(dir, 'model.safetensors'));
    const kept = Object.fromEntries([...tensors].filter(([name]) => name !== 'decoder.block.1.layer.1.EncDecAttention.k.weight').map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }]));
    writeSafetensors(join(dir, 'model.safetensors'), kept);
    await expect(importT5Checkpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: tensor "decoder.block.1.layer.1.EncDecAttention.k.weight" is missing`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config(), num_heads: 2 }));
    copyFileSync(join(FIXTURES, 't5-tiny', 'model.safetensors'), join(dir, 'model.safetensors'));
    await expect(importT5Checkpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: tensor "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" has shape [8, 3] but config.json needs [8, 2]`);
  });
});

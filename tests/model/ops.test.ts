/** The fused decoding kernels (FUSED_OPS) against the reference path of layers.ts (REFERENCE_OPS). */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { FUSED_OPS, REFERENCE_OPS } from '../../lib/model/ops';
import { maxAbsDiff, TINY, tokenRows } from './tiny';

beforeAll(async () => {
  await initBackend('wasm');
});

test.each([
  ['gpt2', TINY.gpt2],
  ['llama', TINY.llama],
  ['qwen2', { ...TINY.llama, arch: 'qwen2' as const }],
])('%s: cached decoding with the fused kernels equals the reference ops (left-padded prompt, 4 steps)', (_, config) => {
  const model = CausalLM.create(config, { seed: 2 });
  const steps = (ops: typeof FUSED_OPS): tf.Tensor[] => {
    model.ops = ops;
    const cache = model.newCache();
    let mask = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]];
    const out = [tf.tidy(() => model.forward(tf.tensor2d(tokenRows(2, 5, config.vocabSize, 3), undefined, 'int32'), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32'), lastOnly: true }).logits)];
    for (let step = 0; step < 4; step++) {
      mask = mask.map((row) => [...row, 1]);
      out.push(tf.tidy(() => model.forward(tf.tensor2d([[step + 4], [step + 5]], undefined, 'int32'), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32'), lastOnly: true }).logits));
    }
    cache.dispose();
    return out;
  };
  const before = tf.memory().numTensors;
  const fused = steps(FUSED_OPS);
  const reference = steps(REFERENCE_OPS);
  fused.forEach((logits, i) => expect(maxAbsDiff(logits, reference[i])).toBeLessThan(1e-5));
  tf.dispose([...fused, ...reference]);
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});

test.each([
  ['gpt2', TINY.gpt2],
  ['llama', TINY.llama],
  ['qwen2', { ...TINY.llama, arch: 'qwen2' as const }],
])('%s: the one-kernel decoding block (DecodeBlock) gives the same bits as the block op by op, leak-free', async (_, config) => {
  const model = CausalLM.create({ ...config, nLayers: 2 }, { seed: 4 });
  // non-zero biases (zero at initialisation), so that a bias left out would show
  for (const v of Object.values(model.weights)) if (v.rank === 1) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 6))));
  const opByOp = { ...FUSED_OPS, decodeBlock: () => undefined };
  const decode = (ops: typeof FUSED_OPS): Float32Array[] => {
    model.ops = ops;
    const cache = model.newCache();
    let mask = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]];
    const out = [tf.tidy(() => model.forward(tf.tensor2d(tokenRows(3, 5, config.vocabSize, 8), undefined, 'int32'), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32'), lastOnly: true }).logits.dataSync() as Float32Array)];
    for (let step = 0; step < 5; step++) {
      mask = mask.map((row) => [...row, 1]);
      out.push(tf.tidy(() => model.forward(tf.tensor2d([[step + 1], [step + 2], [step + 3]], undefined, 'int32'), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32'), lastOnly: true }).logits.dataSync() as Float32Array));
    }
    cache.dispose();
    return out;
  };
  const before = tf.memory().numTensors;
  const fused = decode(FUSED_OPS);
  expect(tf.memory().numTensors).toBe(before);
  const reference = decode(opByOp);
  fused.forEach((logits, i) => expect(Array.from(logits)).toEqual(Array.from(reference[i])));
  // the kernel runs: one per layer on a decoding step, none on the prompt (several tokens per row)
  model.ops = FUSED_OPS;
  const cache = model.newCache();
  const kernels = async (ids: number[][], mask: number[][]) => (await tf.profile(() => tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32'), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32'), lastOnly: true }).logits))).kernels.map((k) => k.name);
  expect((await kernels([[1, 2], [3, 4]], [[1, 1], [1, 1]])).filter((n) => n === 'DecodeBlock')).toHaveLength(0);
  expect((await kernels([[5], [6]], [[1, 1, 1], [1, 1, 1]])).filter((n) => n === 'DecodeBlock')).toHaveLength(2);
  cache.dispose();
  model.dispose();
});

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

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { T5Model } from '../../lib/model/t5';
import type { T5Config } from '../../lib/model/t5-config';
import { t5TargetLogProbs } from '../../lib/model/t5-logprobs';
import { relativeBucket } from '../../lib/model/t5-position';
import { t5Generate } from '../../lib/model/t5-generate';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { maskedCrossEntropy } from '../../lib/train/loss';
import { directionalDerivative } from './tiny';
import { maxAbsDiff, tokenRows } from './tiny';

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

/** Both layouts at tiny sizes: few buckets so short sequences reach the log-spaced ones; dKv * nHeads != dModel. */
const TINY_T5: Record<'v1.0' | 'v1.1', T5Config> = {
  'v1.0': { arch: 't5', vocabSize: 23, dModel: 16, dKv: 6, nHeads: 2, dFF: 24, nLayers: 2, nDecoderLayers: 1, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24, feedForward: 'relu', tieEmbeddings: true },
  'v1.1': { arch: 't5', vocabSize: 23, dModel: 16, dKv: 6, nHeads: 2, dFF: 24, nLayers: 1, nDecoderLayers: 2, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24, feedForward: 'gated-gelu', tieEmbeddings: false },
};

describe('relative position buckets (HF _relative_position_bucket, worked by hand)', () => {
  test('bidirectional, 32 buckets, max distance 128', () => {
    // 16 buckets a side, 8 exact; beyond: 8 + floor(log(r / 8) / log(16) * 8)
    expect([0, -1, 1, -7, 7, -8, 8].map((r) => relativeBucket(r, true, 32, 128))).toEqual([0, 1, 17, 7, 23, 8, 24]);
    expect(relativeBucket(-20, true, 32, 128)).toBe(10); // 8 + floor(0.3305 * 8)
    expect(relativeBucket(20, true, 32, 128)).toBe(26);
    expect(relativeBucket(-16, true, 32, 128)).toBe(10); // log 2 / log 16 * 8 = 2 exactly in float32
    expect(relativeBucket(-127, true, 32, 128)).toBe(15);
    expect(relativeBucket(-5000, true, 32, 128)).toBe(15);
  });
  test('causal, 32 buckets, max distance 128: future keys share bucket 0', () => {
    expect([3, 0, -1, -15, -16].map((r) => relativeBucket(r, false, 32, 128))).toEqual([0, 0, 1, 15, 16]);
    expect(relativeBucket(-40, false, 32, 128)).toBe(23); // 16 + floor(log(2.5) / log(8) * 16) = 16 + 7
    expect(relativeBucket(-1000, false, 32, 128)).toBe(31);
  });
});

describe.each(['v1.0', 'v1.1'] as const)('T5 %s', (layout) => {
  const config = TINY_T5[layout];
  const sources = tokenRows(2, 7, 23, 11);
  const sourceMask = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]];
  const decoderIds = [[0, ...tokenRows(1, 5, 23, 4)[0]], [0, ...tokenRows(1, 5, 23, 9)[0]]];

  test('cached decoding, one token at a time, equals one decoder pass over the whole target', () => {
    const model = T5Model.create(config, { seed: 1 });
    const full = tf.tidy(() => model.forward(tf.tensor2d(sources, undefined, 'int32'), tf.tensor2d(decoderIds, undefined, 'int32'), { sourceMask: tf.tensor2d(sourceMask, undefined, 'int32') }).logits);
    const before = tf.memory().numTensors;
    const encoding = tf.tidy(() => model.encode(tf.tensor2d(sources, undefined, 'int32'), tf.tensor2d(sourceMask, undefined, 'int32')));
    const cache = model.newCache();
    const steps: tf.Tensor3D[] = [];
    for (let t = 0; t < 6; t++) {
      steps.push(tf.tidy(() => model.decode(tf.tensor2d(decoderIds.map((row) => [row[t]]), undefined, 'int32'), encoding, { cache }).logits));
    }
    const stepped = tf.concat(steps, 1);
    expect(maxAbsDiff(stepped, full)).toBeLessThan(1e-4);
    // and the logits are not trivially equal across positions
    const [first, last] = [tf.slice(full, [0, 0, 0], [-1, 1, -1]), tf.slice(full, [0, 5, 0], [-1, 1, -1])];
    expect(maxAbsDiff(first, last)).toBeGreaterThan(1e-3);
    tf.dispose([first, last]);
    cache.dispose();
    tf.dispose([encoding.hidden, encoding.mask, stepped, ...steps]);
    expect(tf.memory().numTensors).toBe(before);
    full.dispose();
    model.dispose();
  });

  test('dispose frees every weight of a model and of its frozen copy', () => {
    const empty = tf.memory().numTensors;
    const model = T5Model.create(config, { seed: 2 });
    const frozen = model.clone();
    expect(tf.memory().numTensors).toBe(empty + 2 * (Object.keys(model.weights).length + 2));
    model.dispose();
    frozen.dispose();
    expect(tf.memory().numTensors).toBe(empty);
  });

  test('source padding does not change a row: padded in a batch equals alone; nothing is left after', () => {
    const empty = tf.memory().numTensors;
    const model = T5Model.create(config, { seed: 2 });
    const batched = tf.tidy(() => model.forward(tf.tensor2d(sources, undefined, 'int32'), tf.tensor2d(decoderIds, undefined, 'int32'), { sourceMask: tf.tensor2d(sourceMask, undefined, 'int32') }).logits);
    const alone = tf.tidy(() => model.forward(tf.tensor2d([sources[1].slice(0, 5)], undefined, 'int32'), tf.tensor2d([decoderIds[1]], undefined, 'int32')).logits);
    const row = tf.slice(batched, [1, 0, 0], [1, -1, -1]);
    expect(maxAbsDiff(row, alone)).toBeLessThan(1e-5);
    tf.dispose([batched, alone, row]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(empty);
  });

  test('generation with the cache equals generation without it (tokens and log-probs), leak-free', async () => {
    const tokenizer = new CharTokenizer([...'abcdefghijklmnop ']);
    const model = T5Model.create({ ...config, vocabSize: tokenizer.vocabSize, decoderStartId: tokenizer.padId }, { seed: 3 });
    const prompts = ['abc de', 'fghij klmno p', 'a'];
    const options = { maxNewTokens: 12, temperature: 1, seed: 7, returnLogprobs: true };
    await t5Generate(model, tokenizer, prompts, options); // warm-up allocations
    const before = tf.memory().numTensors;
    const cached = await t5Generate(model, tokenizer, prompts, options);
    expect(tf.memory().numTensors).toBe(before);
    const uncached = await t5Generate(model, tokenizer, prompts, { ...options, useCache: false });
    expect(cached.map((g) => g.tokenIds)).toEqual(uncached.map((g) => g.tokenIds));
    expect(cached[0].tokenIds.length).toBeGreaterThan(3);
    for (let r = 0; r < prompts.length; r++) {
      for (let t = 0; t < cached[r].logprobs!.length; t++) expect(cached[r].logprobs![t]).toBeCloseTo(uncached[r].logprobs![t], 4);
    }
    // a sampled token's log-prob equals the teacher-forced one of the same target
    const target = cached[1].tokenIds;
    const forced = tf.tidy(() => {
      const encoded = tokenizer.encodeBatch([prompts[1]], { addEos: true });
      return t5TargetLogProbs(model, tf.tensor2d(encoded.ids, undefined, 'int32'), tf.tensor2d(encoded.attentionMask, undefined, 'int32'), tf.tensor2d([target], undefined, 'int32'));
    });
    const forcedValues = forced.dataSync();
    target.forEach((_, t) => expect(forcedValues[t]).toBeCloseTo(cached[1].logprobs![t], 4));
    forced.dispose();
    model.dispose();
  });

  test('training steps are leak-free and lower the loss', () => {
    const model = T5Model.create(config, { seed: 6 });
    const optimizer = tf.train.adam(1e-2);
    const ids = tf.tensor2d(sources, undefined, 'int32');
    const mask = tf.tensor2d(sourceMask, undefined, 'int32');
    const targets = tf.tensor2d(decoderIds.map((row) => [...row.slice(1), 1]), undefined, 'int32');
    const targetMask = tf.ones([2, 6]);
    const step = () => {
      const loss = optimizer.minimize(() => tf.neg(tf.mean(tf.mul(t5TargetLogProbs(model, ids, mask, targets), targetMask))) as tf.Scalar, true)!;
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    };
    const first = step();
    step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 5; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first - 0.5);
    optimizer.dispose();
    tf.dispose([ids, mask, targets, targetMask]);
    model.dispose();
  });
});

/**
 * Finite differences in float32 (steps of 1e-2, Richardson-extrapolated) on the gated-GELU layout, untied and tied
 * (the d^-0.5-scaled shared head): every function in it is smooth. ReLU (v1.0) has kinks that steps of this
 * size cross somewhere among the pre-activations, so its gradients are checked against PyTorch's autograd on the
 * committed v1.0 fixture instead (t5-hf.test.ts).
 */
describe.each([['untied', false], ['tied', true]] as const)('T5 gated-GELU, %s head: analytic gradients match finite differences', (_, tieEmbeddings) => {
  const config: T5Config = { ...TINY_T5['v1.1'], tieEmbeddings };
test('every weight tensor, along its gradient and at its largest entries', () => {
  const model = T5Model.create(config, { seed: 5 });
  const sources = tokenRows(2, 7, 23, 11);
  const sourceMask = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]];
  const decoderIds = [[0, ...tokenRows(1, 5, 23, 4)[0]], [0, ...tokenRows(1, 5, 23, 9)[0]]];
  const ids = tf.tensor2d(sources, undefined, 'int32');
  const mask = tf.tensor2d(sourceMask, undefined, 'int32');
  const targets = tf.tensor2d(decoderIds.map((row) => [...row.slice(1), 1]), undefined, 'int32');
  const targetMask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]);
  const all = { ...model.weights, ...model.valueHeadWeights };
  const loss = () =>
    tf.tidy(() => {
      const { logits, hidden } = model.forward(ids, tf.tensor2d(decoderIds, undefined, 'int32'), { sourceMask: mask });
      const ce = maskedCrossEntropy(logits, targets, targetMask);
      return tf.add(ce, tf.mul(0.3, tf.sum(tf.square(tf.mul(model.value(hidden), targetMask))))) as tf.Scalar;
    });
  const { grads } = tf.variableGrads(loss, Object.values(all));
  const h = 1e-2;
  const derivative = (v: tf.Variable, direction: tf.Tensor): number => directionalDerivative(loss, v, direction, h);
  const near = (what: string, fd: number, analytic: number, tolerance: number) => {
    if (!(Math.abs(fd - analytic) <= tolerance)) throw new Error(`${what}: finite difference ${fd} vs analytic ${analytic} (tolerance ${tolerance})`);
  };
  for (const [name, v] of Object.entries(all)) {
    const g = grads[v.name];
    const values = g.dataSync() as Float32Array;
    const norm = Math.sqrt(values.reduce((s, x) => s + x * x, 0));
    expect([name, norm > 1e-3]).toEqual([name, true]); // every weight takes part
    const unit = tf.div(g, norm);
    near(`${name} along its gradient`, derivative(v, unit), norm, Math.max(2e-4, 0.01 * norm));
    unit.dispose();
    const largest = Array.from(values.keys()).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a])).slice(0, 2);
    for (const index of largest) {
      const basis = tf.tensor(Float32Array.from({ length: values.length }, (_, i) => (i === index ? 1 : 0)), v.shape);
      near(`${name}[${index}]`, derivative(v, basis), values[index], Math.max(3e-4, 0.02 * Math.abs(values[index])));
      basis.dispose();
    }
  }
  // shared, 2 bias tables, 9 tensors an encoder block, 14 a decoder block, 2 final norms, lm_head if untied, value head
  expect(Object.keys(all).length).toBe(1 + 2 + 9 + 2 * 14 + 2 + (config.tieEmbeddings ? 0 : 1) + 2);
  tf.dispose([ids, mask, targets, targetMask, ...Object.values(grads)]);
  model.dispose();
});

});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { maskedMatMul, setFastWasmKernels, type CausalMaskAttrs } from '../../lib/kernels';
import { attention, attentionBias } from '../../lib/model/layers';
import { values } from '../backend/values';

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
});

afterEach(async () => {
  if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
});

/** Positions where two arrays differ bit for bit (Object.is: -0 and +0 differ, NaN equals NaN). */
function bitDifferences(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) count++;
  return count;
}

const uniform = (shape: number[], seed: number) => tf.tensor(values(shape.reduce((p, d) => p * d, 1), seed), shape);

/**
 * [batch, kv heads, group, queries, past, head size]: groups of query rows (grouped-query heads), cached keys
 * before the queries, query counts that are not multiples of the 8-row blocks or 4-row tiles, one product alone.
 */
const CASES: Array<[number, number, number, number, number, number]> = [
  [2, 2, 1, 13, 0, 8], [1, 2, 2, 20, 3, 4], [1, 1, 3, 5, 0, 6], [1, 1, 1, 40, 7, 16], [2, 1, 1, 9, 0, 3],
];

/** Whether query row r (of `queries` per group) sees key s. */
const visible = (r: number, s: number, queries: number, past: number) => s <= past + (r % queries);

describe.each(CASES)('MaskedBatchMatMul on wasm: batch %i, %i kv heads, group %i, %i queries after %i cached keys, head size %i', (batch, kvHeads, group, queries, past, h) => {
  const rows = group * queries;
  const keys = past + queries;
  const mask = { queries, past };
  const attrs = (transposeA: boolean, transposeB: boolean, masked: 'output' | 'a'): CausalMaskAttrs => ({ transposeA, transposeB, ...mask, masked });
  /** A [.., rows, keys] tensor of values with the hidden entries +0 (probabilities or their gradient). */
  const hiddenZero = (seed: number) => {
    const data = values(batch * kvHeads * rows * keys, seed);
    for (let i = 0; i < data.length; i++) if (!visible(Math.floor(i / keys) % rows, i % keys, queries, past)) data[i] = 0;
    return tf.tensor4d(data, [batch, kvHeads, rows, keys]);
  };

  test("masked='output' (scores q k^T, dp = dy v^T): the visible entries have the full product's bits, the hidden ones +0", () => {
    tf.tidy(() => {
      const q = uniform([batch, kvHeads, rows, h], 1);
      const k = uniform([batch, kvHeads, keys, h], 2);
      const full = tf.matMul(q, k, false, true).dataSync();
      const got = maskedMatMul(q, k, attrs(false, true, 'output'))!;
      expect(got.shape).toEqual([batch, kvHeads, rows, keys]);
      const data = got.dataSync();
      const seen = Array.from(data).map((v, i) => (visible(Math.floor(i / keys) % rows, i % keys, queries, past) ? v : full[i]));
      expect(bitDifferences(seen, full)).toBe(0);
      // a hidden entry is the product or +0, and +0 past the row's 8-row block and a vector of 8 keys where the product
      // takes the sequential route (with one product for the batch, XNNPACK computes it in full)
      let zeros = 0;
      for (let i = 0; i < data.length; i++) {
        const [r, s] = [Math.floor(i / keys) % rows, i % keys];
        if (!visible(r, s, queries, past)) expect(Object.is(data[i], full[i]) || Object.is(data[i], 0)).toBe(true);
        if (s >= past + (r % queries) + 16 && Object.is(data[i], 0)) zeros++;
      }
      const skipping = batch * kvHeads > 1;
      const far = Array.from(data).filter((_, i) => i % keys >= past + ((Math.floor(i / keys) % rows) % queries) + 16).length;
      expect(zeros).toBe(skipping ? far : 0);
      if (queries >= 20 && skipping) expect(far).toBeGreaterThan(0);
    });
  });

  test("masked='a' (p v, dq = ds k, and transposed: dk = ds^T q, dv = p^T dy): the full product's bits", () => {
    tf.tidy(() => {
      const p = hiddenZero(3);
      const v = uniform([batch, kvHeads, keys, h], 4);
      expect(bitDifferences(maskedMatMul(p, v, attrs(false, false, 'a'))!.dataSync(), tf.matMul(p, v).dataSync())).toBe(0);
      const dy = uniform([batch, kvHeads, rows, h], 5);
      const transposed = maskedMatMul(p, dy, attrs(true, false, 'a'))!;
      expect(transposed.shape).toEqual([batch, kvHeads, keys, h]);
      expect(bitDifferences(transposed.dataSync(), tf.matMul(p, dy, true, false).dataSync())).toBe(0);
    });
  });
});

test('a product whose rows are not whole groups of queries is an error naming the kernel and the shapes', () => {
  tf.tidy(() => {
    const q = uniform([1, 1, 10, 4], 1);
    const k = uniform([1, 1, 10, 4], 2);
    expect(() => maskedMatMul(q, k, { transposeA: false, transposeB: true, queries: 4, past: 0, masked: 'output' }))
      .toThrow("MaskedBatchMatMul: a product [10, 10] over 4 terms (transposeA=false) has no whole groups of 4 query rows for masked='output'");
  });
});

test('without the fast kernels (and on cpu) there is no MaskedBatchMatMul: maskedMatMul is undefined', async () => {
  const q = uniform([1, 1, 8, 4], 1);
  const attrs: CausalMaskAttrs = { transposeA: false, transposeB: true, queries: 8, past: 0, masked: 'output' };
  setFastWasmKernels(false);
  try {
    expect(maskedMatMul(q, q, attrs)).toBeUndefined();
  } finally {
    setFastWasmKernels(true);
  }
  expect(maskedMatMul(q, q, attrs)).toBeDefined();
  await tf.setBackend('cpu');
  expect(maskedMatMul(q, q, attrs)).toBeUndefined();
  q.dispose();
});

describe('attention with causalPast: the same bits as the full products, forward and gradients', () => {
  // left padding in one row, grouped-query heads, and a prompt after cached keys (past 3)
  const run = (causalPast: number | undefined, past: number) => tf.tidy(() => {
    const [batch, heads, kvHeads, T, h] = [2, 4, 2, 11, 8];
    const keys = past + T;
    const q = uniform([batch, heads, T, h], 11) as tf.Tensor4D;
    const k = uniform([batch, kvHeads, keys, h], 12) as tf.Tensor4D;
    const v = uniform([batch, kvHeads, keys, h], 13) as tf.Tensor4D;
    const keyMask = tf.tensor2d([[...new Array(keys - 4).fill(1), 1, 1, 1, 1], [0, 0, 0, ...new Array(keys - 3).fill(1)]], undefined, 'int32');
    const bias = attentionBias(keyMask, T, past);
    const dy = uniform([batch * T, heads * h], 14);
    const f = (qx: tf.Tensor, kx: tf.Tensor, vx: tf.Tensor) => tf.sum(tf.mul(attention(qx as tf.Tensor4D, kx as tf.Tensor4D, vx as tf.Tensor4D, bias, causalPast), dy));
    const out = attention(q, k, v, bias, causalPast);
    return [out, ...tf.grads(f)([q, k, v])].map((t) => Array.from(t.dataSync()));
  });

  test.each([0, 3])('wasm, past %i', (past) => {
    const [masked, full] = [run(past, past), run(undefined, past)];
    masked.forEach((values, i) => expect(bitDifferences(values, full[i])).toBe(0));
  });

  test('cpu (no masked kernel: plain products through the custom gradients)', async () => {
    await tf.setBackend('cpu');
    const [masked, full] = [run(3, 3), run(undefined, 3)];
    masked.forEach((values, i) => expect(bitDifferences(values, full[i])).toBe(0));
  });
});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { adamwStep, rowNorm } from '../../lib/kernels';
import { layerNorm, rmsNorm } from '../../lib/model/layers';

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
});

afterEach(async () => {
  if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
});

const rows = [[1, 4, 3, 6], [-2, 0.5, 0.25, 7]];

function closeTo(got: ArrayLike<number>, want: ArrayLike<number>, digits = 5): void {
  expect(got.length).toBe(want.length);
  Array.from(got).forEach((v, i) => expect(v).toBeCloseTo(want[i], digits));
}

test('RowNorm is LayerNorm with a bias and RMSNorm without, as the composite ops and by hand', () => {
  tf.tidy(() => {
    const x = tf.tensor2d(rows);
    const g = tf.tensor1d([1, 2, 0.5, -1]);
    const b = tf.tensor1d([0, 1, -1, 0.25]);
    const ln = rowNorm(x, g, b, 1e-5)!;
    const rms = rowNorm(x, g, undefined, 1e-5)!;
    closeTo(ln.dataSync(), layerNorm(x, g, b, 1e-5).dataSync());
    closeTo(rms.dataSync(), rmsNorm(x, g, 1e-5).dataSync());
    // Row 0: mean 3.5, variance 3.25; by hand with eps 0.
    const sd = Math.sqrt(3.25);
    closeTo(rowNorm(tf.tensor2d([rows[0]]), g, b, 0)!.dataSync(), [-2.5 / sd, 1 + 1 / sd, -1 - 0.25 / sd, 0.25 - 2.5 / sd]);
    expect(ln.shape).toEqual([2, 4]);
  });
});

test('a backend without the kernel gets undefined (the caller falls back to composite ops)', async () => {
  await tf.setBackend('cpu');
  tf.tidy(() => {
    expect(rowNorm(tf.tensor2d(rows), tf.ones([4]), undefined, 1e-5)).toBeUndefined();
  });
});

test('repeated calls leave no tensor behind', () => {
  const x = tf.tensor2d(rows);
  const g = tf.ones([4]) as tf.Tensor1D;
  const step = () => tf.tidy(() => {
    rowNorm(rowNorm(x, g, g, 1e-5)!, g, undefined, 1e-5);
  });
  step();
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) step();
  expect(tf.memory().numTensors).toBe(tensors);
  tf.dispose([x, g]);
});

test('AdamWStep matches the update by hand, with and without weight decay, and rejects mismatched shapes', () => {
  tf.tidy(() => {
    const [p, m, v, g] = [[0.5, -1, 2], [0.1, 0, -0.2], [0.01, 0.5, 0], [1, -2, 0.25]];
    const attrs = {
      lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5, correction1: 1 - 0.9 ** 3, correction2: 1 - 0.99 ** 3,
    };
    for (const weightDecay of [0, 0.5]) {
      const [pT, mT, vT, gT] = [p, m, v, g].map((x) => tf.tensor1d(x));
      const [pNext, mNext, vNext] = adamwStep(pT, mT, vT, gT, { ...attrs, weightDecay })!;
      const mWant = m.map((mi, i) => 0.9 * mi + 0.1 * g[i]);
      const vWant = v.map((vi, i) => 0.99 * vi + 0.01 * g[i] ** 2);
      const adam = (i: number) => mWant[i] / attrs.correction1 / (Math.sqrt(vWant[i] / attrs.correction2) + 1e-8);
      const pWant = p.map((pi, i) => pi - 0.1 * (adam(i) + weightDecay * pi));
      closeTo(mNext.dataSync(), mWant, 6);
      closeTo(vNext.dataSync(), vWant, 6);
      closeTo(pNext.dataSync(), pWant, 5);
    }
    expect(() => adamwStep(tf.ones([3]), tf.ones([3]), tf.ones([2]), tf.ones([3]), attrs)).toThrow('input "v" has shape [2] but p has [3]');
  });
});

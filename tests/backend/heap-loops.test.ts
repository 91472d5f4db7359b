import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../lib/backend';
import { heapLoops } from '../../lib/kernels/heap-loops';
import { heapAddress } from '../../lib/kernels/wasm-encoder';
import { values } from './values';

// The wasm loops must give exactly what each kernel's formula gives when JS evaluates it in float64 and a
// Float32Array store rounds it: the references below are those formulas, written out as the kernels document them.

let backend: BackendWasm;
const at = (t: tf.Tensor) => heapAddress(backend, t);

/** Positions where two arrays differ bit for bit (Object.is: -0 and +0 differ, NaN equals NaN). */
function bitDifferences(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) count++;
  return count;
}

/** values() scaled to [-scale, scale), with a few exact zeros and negative zeros among them. */
function spread(n: number, seed: number, scale: number): Float32Array {
  const out = values(n, seed).map((v) => v * scale);
  for (let i = 3; i < n; i += 17) out[i] = i % 2 === 0 ? 0 : -0;
  return out;
}

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
  backend = tf.backend() as BackendWasm;
});

test('geluTanhGrad: dy (s + x s (1 - s) slope (1 + cubic x^2)) bit for bit, and nothing past n written', () => {
  const n = 1001;
  const [slope, cubic] = [2 * Math.sqrt(2 / Math.PI), 3 * 0.044715];
  const x = spread(n, 1, 6);
  const s = x.map((v) => 1 / (1 + Math.exp(-v)));
  const dy = spread(n, 2, 3);
  const expected = new Float32Array(n);
  for (let i = 0; i < n; i++) expected[i] = dy[i] * (s[i] + x[i] * s[i] * (1 - s[i]) * slope * (1 + cubic * x[i] * x[i]));
  const [xT, sT, dyT] = [x, s, dy].map((v) => tf.tensor1d(v));
  const out = tf.fill([n + 1], 7.5);
  heapLoops(backend).geluTanhGrad(at(xT), at(sT), at(dyT), at(out), n, slope, cubic);
  const got = out.dataSync() as Float32Array;
  expect(bitDifferences(got.slice(0, n), expected)).toBe(0);
  expect(got[n]).toBe(7.5);
  tf.dispose([xT, sT, dyT, out]);
});

test('geluArgument: x (linear + quadratic x^2) with every operation rounded to float32, four at a time and the rest, nothing past n written', () => {
  const n = 1003; // 250 steps of four, then three alone
  const [linear, quadratic] = [2 * Math.sqrt(2 / Math.PI), 2 * 0.044715 * Math.sqrt(2 / Math.PI)];
  const x = spread(n, 7, 8);
  x[10] = Number.POSITIVE_INFINITY;
  x[1001] = Number.NaN;
  const [l, q] = [Math.fround(linear), Math.fround(quadratic)];
  const f = Math.fround;
  const expected = x.map((v) => f(v * f(l + f(q * f(v * v)))));
  const xT = tf.tensor1d(x);
  const out = tf.fill([n + 1], 7.5);
  heapLoops(backend).geluArgument(at(xT), at(out), n, linear, quadratic);
  const got = out.dataSync() as Float32Array;
  expect(bitDifferences(got.slice(0, n), expected)).toBe(0);
  expect(got[n]).toBe(7.5);
  tf.dispose([xT, out]);
});

test('rowNormForward: LayerNorm and RMSNorm rows in float32, each sum from +0 in order, bit for bit, rstd one per row', () => {
  const [rows, width] = [9, 23]; // five steps of four and three alone per row
  const f = Math.fround;
  const x = spread(rows * width, 8, 4);
  const [gain, bias] = [spread(width, 9, 1.5), spread(width, 10, 0.5)];
  const eps = 1e-5;
  for (const [center, hasBias] of [[1, 1], [1, 0], [0, 0]]) {
    const want = { out: new Float32Array(rows * width), xhat: new Float32Array(rows * width), rstd: new Float32Array(rows) };
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * width, (r + 1) * width);
      const mean = center ? f(row.reduce((sum, v) => f(sum + v), 0) / width) : 0;
      const rstd = f(1 / f(Math.sqrt(f(f(row.reduce((sum, v) => f(sum + f(f(v - mean) * f(v - mean))), 0) / width) + f(eps)))));
      want.rstd[r] = rstd;
      row.forEach((v, c) => {
        const h = f(f(v - mean) * rstd);
        want.xhat[r * width + c] = h;
        want.out[r * width + c] = hasBias ? f(f(h * gain[c]) + bias[c]) : f(h * gain[c]);
      });
    }
    const [xT, gT, bT] = [x, gain, bias].map((v) => tf.tensor1d(v));
    const [out, xhat, rstd] = [rows * width, rows * width, rows].map((n) => tf.fill([n + 1], 7.5));
    heapLoops(backend).rowNormForward(at(xT), at(gT), at(bT), at(out), at(xhat), at(rstd), rows, width, eps, center, hasBias);
    for (const [got, expected] of [[out, want.out], [xhat, want.xhat], [rstd, want.rstd]] as const) {
      const data = got.dataSync() as Float32Array;
      expect(bitDifferences(data.slice(0, expected.length), expected)).toBe(0);
      expect(data[expected.length]).toBe(7.5);
    }
    tf.dispose([xT, gT, bT, out, xhat, rstd]);
  }
});

test('adamwStep: m\', v\' and p\' of AdamW (Loshchilov & Hutter, Algorithm 2) bit for bit, with and without decay and a gradient scale', () => {
  const n = 777;
  const [p, m, g] = [spread(n, 3, 2), spread(n, 4, 0.1), spread(n, 5, 0.5)];
  const v = values(n, 6).map((x) => x * x * 0.01);
  const [lr, beta1, beta2, eps, correction1, correction2] = [3e-4, 0.9, 0.999, 1e-8, 1 - 0.9 ** 7, 1 - 0.999 ** 7];
  for (const [weightDecay, gradScale] of [[0, 1], [0.01, 1], [0.01, Math.fround(0.3141)]]) {
    const expected = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    for (let i = 0; i < n; i++) {
      const gi = Math.fround(g[i] * gradScale); // the clipped gradient as tf.mul rounds it
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      expected[1][i] = mi;
      expected[2][i] = vi;
      expected[0][i] = p[i] - lr * (mi / correction1 / (Math.sqrt(vi / correction2) + eps) + weightDecay * p[i]);
    }
    const inputs = [p, m, v, g].map((x) => tf.tensor1d(x));
    const outputs = [0, 1, 2].map(() => tf.zeros([n]));
    heapLoops(backend).adamwStep(...inputs.map(at) as [number, number, number, number], at(outputs[0]), at(outputs[1]), at(outputs[2]), n, gradScale,
      lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, correction1, correction2);
    outputs.forEach((t, i) => expect(bitDifferences(t.dataSync() as Float32Array, expected[i])).toBe(0));
    tf.dispose([...inputs, ...outputs]);
  }
});

test('sumOfSquares: the float32 sum from +0 of x * x in order, bit for bit', () => {
  const x = spread(5003, 11, 4);
  let expected = 0;
  for (const v of x) expected = Math.fround(expected + Math.fround(v * v));
  const [xT, out] = [tf.tensor1d(x), tf.fill([2], 7.5)];
  heapLoops(backend).sumOfSquares(at(xT), x.length, at(out));
  expect(Array.from(out.dataSync())).toEqual([expected, 7.5]);
  tf.dispose([xT, out]);
});

test('rowNormGrad and columnSums: dx row by row, dgain and dbias summed over rows in order, bit for bit', () => {
  const [rows, width] = [37, 13];
  const dy = spread(rows * width, 7, 1);
  const xhat = spread(rows * width, 8, 2);
  const rstd = values(rows, 9).map((v) => 0.5 + Math.abs(v));
  const gain = spread(width, 10, 1.5);
  for (const center of [true, false]) {
    const dx = new Float32Array(rows * width);
    const dGain = new Float64Array(width);
    for (let r = 0; r < rows; r++) {
      let sumG = 0;
      let sumGX = 0;
      for (let c = 0; c < width; c++) {
        const gc = dy[r * width + c] * gain[c];
        sumG += gc;
        sumGX += gc * xhat[r * width + c];
        dGain[c] += dy[r * width + c] * xhat[r * width + c];
      }
      const meanG = center ? sumG / width : 0;
      const meanGX = sumGX / width;
      for (let c = 0; c < width; c++) dx[r * width + c] = rstd[r] * (dy[r * width + c] * gain[c] - meanG - xhat[r * width + c] * meanGX);
    }
    const [dyT, xhatT, rstdT, gainT] = [dy, xhat, rstd, gain].map((v) => tf.tensor1d(v));
    const [dxT, dGainT, sums] = [tf.zeros([rows * width]), tf.fill([width + 1], 7.5), tf.zeros([2 * width])];
    heapLoops(backend).rowNormGrad(at(dyT), at(xhatT), at(rstdT), at(gainT), at(dxT), at(dGainT), at(sums), rows, width, center ? 1 : 0);
    expect(bitDifferences(dxT.dataSync() as Float32Array, dx)).toBe(0);
    const gotGain = dGainT.dataSync() as Float32Array;
    expect(bitDifferences(gotGain.slice(0, width), Float32Array.from(dGain))).toBe(0);
    expect(gotGain[width]).toBe(7.5);
    tf.dispose([dyT, xhatT, rstdT, gainT, dxT, dGainT, sums]);
  }
  // column sums, four rows a pass then one: every remainder of rows over 4, and no rows at all
  for (const count of [0, 1, 2, 3, 4, 5, 6, 7, 37]) {
    const expected = new Float64Array(width);
    let r = 0;
    for (; r + 4 <= count; r += 4) {
      for (let c = 0; c < width; c++) {
        const [a, b, e, f] = [0, 1, 2, 3].map((i) => dy[(r + i) * width + c]);
        expected[c] += (a + b) + (e + f);
      }
    }
    for (; r < count; r++) for (let c = 0; c < width; c++) expected[c] += dy[r * width + c];
    const [dyT, out, sums] = [tf.tensor1d(dy), tf.fill([width], 7.5), tf.zeros([2 * width])];
    heapLoops(backend).columnSums(at(dyT), count, width, at(sums), at(out));
    expect(bitDifferences(out.dataSync() as Float32Array, Float32Array.from(expected))).toBe(0);
    tf.dispose([dyT, out, sums]);
  }
});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { setFastWasmKernels, fastWasmKernelsOn } from '../../lib/kernels';
import { values } from './values';

/** Reference product in float64: batch axes broadcast, transposes applied by index. */
function referenceMatMul(
  a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], ta: boolean, tb: boolean,
): { data: Float64Array; shape: number[] } {
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const [m, k] = ta ? [ac, ar] : [ar, ac];
  const n = tb ? br : bc;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
  const pa = pad(aBatch);
  const pb = pad(bBatch);
  const outBatch = pa.map((d, i) => Math.max(d, pb[i]));
  const batchCount = outBatch.reduce((p, d) => p * d, 1);
  const data = new Float64Array(batchCount * m * n);
  for (let flat = 0; flat < batchCount; flat++) {
    let rest = flat;
    let ai = 0;
    let bi = 0;
    let aStride = 1;
    let bStride = 1;
    for (let ax = rank - 1; ax >= 0; ax--) {
      const c = rest % outBatch[ax];
      rest = Math.floor(rest / outBatch[ax]);
      ai += (pa[ax] === 1 ? 0 : c) * aStride;
      bi += (pb[ax] === 1 ? 0 : c) * bStride;
      aStride *= pa[ax];
      bStride *= pb[ax];
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) {
          const av = a[ai * ar * ac + (ta ? p * ac + i : i * ac + p)];
          const bv = b[bi * br * bc + (tb ? j * bc + p : p * bc + j)];
          sum += av * bv;
        }
        data[(flat * m + i) * n + j] = sum;
      }
    }
  }
  return { data, shape: [...outBatch, m, n] };
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

/**
 * [aShape, bShape] before transposition; the cases cover 2-D, batched, broadcast batch and rank mismatch.
 * `shippedWrong`: the shipped 4.22 kernel sizes its output by max(batchA, batchB), so when each operand
 * broadcasts along a different axis it returns too few values; there only the float64 reference is compared.
 */
const CASES: Array<{ name: string; a: number[]; b: number[]; shippedWrong?: boolean }> = [
  { name: '2-D', a: [5, 7], b: [7, 3] },
  { name: '3-D same batch (attention)', a: [4, 6, 5], b: [4, 5, 6] },
  { name: '3-D by 2-D weight', a: [3, 4, 7], b: [7, 5] },
  { name: '2-D by 3-D', a: [4, 7], b: [3, 7, 5] },
  { name: 'batch 1 broadcast on b', a: [3, 4, 7], b: [1, 7, 5] },
  { name: 'batch 1 broadcast on a', a: [1, 4, 7], b: [3, 7, 5] },
  { name: '4-D heads', a: [2, 3, 5, 4], b: [2, 3, 4, 5] },
  { name: '4-D cross broadcast', a: [2, 1, 5, 4], b: [1, 3, 4, 6], shippedWrong: true },
  { name: 'single row (decoding)', a: [4, 1, 8], b: [4, 8, 9] },
  { name: 'few rows by 2-D weight (decoding)', a: [3, 1, 7], b: [7, 5] },
  { name: 'few rows, batch 1 broadcast on a', a: [1, 2, 7], b: [3, 7, 5] },
];

/** For a case and flags, the actual operand shapes: a transpose flag means the stored operand is transposed. */
function operandShapes(c: { a: number[]; b: number[] }, ta: boolean, tb: boolean): [number[], number[]] {
  const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
  return [ta ? swap(c.a) : c.a, tb ? swap(c.b) : c.b];
}

function run(aVals: Float32Array, aShape: number[], bVals: Float32Array, bShape: number[], ta: boolean, tb: boolean) {
  return tf.tidy(() => {
    const out = tf.matMul(tf.tensor(aVals, aShape), tf.tensor(bVals, bShape), ta, tb);
    return { data: out.dataSync().slice(), shape: out.shape };
  });
}

const FLAGS: Array<[boolean, boolean]> = [[false, false], [false, true], [true, false], [true, true]];

beforeAll(async () => {
  const { name } = await initBackend('wasm');
  expect(name).toBe('wasm');
  expect(fastWasmKernelsOn()).toBe(true);
});

describe('routed BatchMatMul on wasm', () => {
  for (const c of CASES) {
    for (const [ta, tb] of FLAGS) {
      test(`${c.name}, transposeA=${ta}, transposeB=${tb}: matches float64 reference and the shipped kernel`, () => {
        const [aShape, bShape] = operandShapes(c, ta, tb);
        const a = values(aShape.reduce((p, d) => p * d, 1), 11);
        const b = values(bShape.reduce((p, d) => p * d, 1), 23);
        const expected = referenceMatMul(a, aShape, b, bShape, ta, tb);

        const routed = run(a, aShape, b, bShape, ta, tb);
        expect(routed.shape).toEqual(expected.shape);
        expect(maxAbsDiff(routed.data, expected.data)).toBeLessThan(1e-5);
        if (c.shippedWrong) return;

        setFastWasmKernels(false);
        try {
          const shipped = run(a, aShape, b, bShape, ta, tb);
          expect(shipped.shape).toEqual(routed.shape);
          expect(maxAbsDiff(routed.data, shipped.data)).toBeLessThan(1e-5);
        } finally {
          setFastWasmKernels(true);
        }
      });
    }
  }

  test('gradients of tf.matMul on 3-D inputs match the shipped kernel and the analytic form', () => {
    // loss = sum(W * (A B)), so dL/dA = W B^T and dL/dB = A^T W per batch item.
    for (const [ta, tb] of FLAGS) {
      const [aShape, bShape] = operandShapes({ a: [3, 4, 6], b: [3, 6, 5] }, ta, tb);
      const a = values(72, 5);
      const b = values(90, 7);
      const w = values(60, 9);
      const grads = () => tf.tidy(() => {
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.tensor(w, [3, 4, 5]), tf.matMul(x, y, ta, tb)));
        return tf.grads(f)([tf.tensor(a, aShape), tf.tensor(b, bShape)]).map((g) => g.dataSync().slice());
      });
      const [routedA, routedB] = grads();
      setFastWasmKernels(false);
      let shippedA: Float32Array;
      let shippedB: Float32Array;
      try {
        [shippedA, shippedB] = grads() as [Float32Array, Float32Array];
      } finally {
        setFastWasmKernels(true);
      }
      expect(maxAbsDiff(routedA, shippedA)).toBeLessThan(1e-5);
      expect(maxAbsDiff(routedB, shippedB)).toBeLessThan(1e-5);

      // Analytic check in the untransposed layout: dA = W B^T, dB = A^T W; transposed back where stored so.
      const aPlain = toPlain(a, aShape, ta);
      const bPlain = toPlain(b, bShape, tb);
      const dA = referenceMatMul(w, [3, 4, 5], bPlain, [3, 6, 5], false, true).data;
      const dB = referenceMatMul(aPlain, [3, 4, 6], w, [3, 4, 5], true, false).data;
      expect(maxAbsDiff(routedA, ta ? toPlain(Float32Array.from(dA), [3, 4, 6], true) : dA)).toBeLessThan(1e-5);
      expect(maxAbsDiff(routedB, tb ? toPlain(Float32Array.from(dB), [3, 6, 5], true) : dB)).toBeLessThan(1e-5);
    }
  });

  test('repeated products leak neither tensors nor backend buffers', () => {
    const a = tf.tensor(values(4 * 6 * 5, 1), [4, 6, 5]);
    const b = tf.tensor(values(4 * 6 * 5, 2), [4, 6, 5]);
    const once = () => tf.tidy(() => tf.sum(tf.matMul(a, b, false, true)).dataSync());
    once();
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    for (let i = 0; i < 20; i++) once();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose([a, b]);
  });

  test('few rows times a large transposed weight: right values, one cached copy, dropped with the weight', () => {
    const [n, k] = [300, 256]; // 76,800 values: large enough to be cached
    const x = values(3 * k, 3);
    const buffers = tf.engine().backend.numDataIds();
    const check = (w: tf.Tensor, seed: number) => {
      const expected = referenceMatMul(x, [3, k], values(n * k, seed), [n, k], false, true).data;
      const product = tf.tidy(() => tf.matMul(tf.tensor(x, [3, k]), w, false, true).dataSync());
      expect(maxAbsDiff(product, expected)).toBeLessThan(1e-4);
    };
    const first = tf.tensor(values(n * k, 41), [n, k]);
    check(first, 41);
    check(first, 41);
    // The rows are gone; the weight and its one cached transposed copy remain.
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 2);
    first.dispose();
    const second = tf.tensor(values(n * k, 43), [n, k]);
    check(second, 43); // a new weight: no stale copy is used, and the first weight's copy is released
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 2);
    setFastWasmKernels(false); // switching off releases the copies
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
    setFastWasmKernels(true);
    second.dispose();
  });

  test('mismatched inner dimensions give one clear error', () => {
    expect(() => tf.tidy(() => tf.matMul(tf.zeros([2, 3, 4]), tf.zeros([2, 5, 6])))).toThrow(/inner/);
  });
});

/** Transposes the last two axes of a batch of matrices stored in `shape` when `flag` is set. */
function toPlain(x: Float32Array, shape: number[], flag: boolean): Float32Array {
  if (!flag) return x;
  const [r, c] = shape.slice(-2);
  const batch = x.length / (r * c);
  const out = new Float32Array(x.length);
  for (let q = 0; q < batch; q++) {
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[q * r * c + j * r + i] = x[q * r * c + i * c + j];
  }
  return out;
}

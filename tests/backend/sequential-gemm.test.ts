import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../lib/backend';
import { fastWasmKernelsOn } from '../../lib/kernels';
import { sequentialGemm } from '../../lib/kernels/sequential-gemm';
import { values } from './values';

let backend: BackendWasm;
const heapIndex = (t: tf.Tensor) => backend.typedArrayFromHeap(t).byteOffset / 4;

/** XNNPACK's fully-connected product (a 2-D product with no transpose and more than a few rows goes there). */
function xnnpack(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  return tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).dataSync() as Float32Array).slice();
}

/** Positions where two arrays differ bit for bit (Object.is: -0 and +0 differ, NaN equals NaN). */
function bitDifferences(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) count++;
  return count;
}

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
  expect(fastWasmKernelsOn()).toBe(true);
  backend = tf.backend() as BackendWasm;
});

describe('sequential float32 product on the wasm heap', () => {
  // rows past a multiple of 4 and columns past multiples of 8 and 4 exercise every tile; k = 1 and odd k too
  const SHAPES: Array<[number, number, number]> = [[5, 7, 13], [9, 1, 8], [6, 64, 20], [13, 65, 31], [128, 32, 128], [33, 200, 44]];

  for (const [m, k, n] of SHAPES) {
    test(`[${m}, ${k}] x [${k}, ${n}]: bit-identical to XNNPACK, A read in place or transposed, nothing outside C written`, () => {
      const a = values(m * k, m + k);
      const b = values(k * n, n + 3);
      const expected = xnnpack(a, b, m, k, n);
      const gemm = sequentialGemm(backend);
      const aT = new Float32Array(k * m);
      for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) aT[t * m + i] = a[i * k + t];
      const guard = 8; // values either side of C that must keep their sentinel
      for (const [stored, aRow, aCol] of [[a, k, 1], [aT, 1, m]] as const) {
        const [aTensor, bTensor] = [tf.tensor1d(stored), tf.tensor1d(b)];
        const out = tf.fill([m * n + 2 * guard], 7.5);
        gemm.run(m, n, k, heapIndex(aTensor), aRow, aCol, heapIndex(bTensor), n, heapIndex(out) + guard, n, false);
        const got = out.dataSync() as Float32Array;
        expect(bitDifferences(got.slice(guard, guard + m * n), expected)).toBe(0);
        expect([...got.slice(0, guard), ...got.slice(guard + m * n)].every((v) => v === 7.5)).toBe(true);
        tf.dispose([aTensor, bTensor, out]);
      }
    });
  }

  test('a sum split over t with `accumulate` gives the same bits as one pass, and reads strided C rows', () => {
    const [m, k, n, cRow] = [7, 50, 12, 15];
    const a = values(m * k, 5);
    const b = values(k * n, 6);
    const expected = xnnpack(a, b, m, k, n);
    const gemm = sequentialGemm(backend);
    const [aTensor, bTensor] = [tf.tensor1d(a), tf.tensor1d(b)];
    const out = tf.fill([m * cRow], -3);
    const [aAt, bAt, cAt] = [aTensor, bTensor, out].map(heapIndex);
    for (const [from, to] of [[0, 17], [17, 18], [18, 50]]) {
      gemm.run(m, n, to - from, aAt + from, k, 1, bAt + from * n, n, cAt, cRow, from > 0);
    }
    const got = out.dataSync() as Float32Array;
    for (let i = 0; i < m; i++) {
      expect(bitDifferences(got.slice(i * cRow, i * cRow + n), expected.slice(i * n, (i + 1) * n))).toBe(0);
      expect([...got.slice(i * cRow + n, (i + 1) * cRow)].every((v) => v === -3)).toBe(true); // the gap is untouched
    }
    tf.dispose([aTensor, bTensor, out]);
  });

  test('runJob runs every unit for every product: two blocks of rows, one split in t, give the one-pass bits of both', () => {
    const [m, k, n] = [10, 30, 12];
    const a = values(2 * m * k, 21); // two products' A, one B
    const b = values(k * n, 22);
    const expected = [xnnpack(a.slice(0, m * k), b, m, k, n), xnnpack(a.slice(m * k), b, m, k, n)];
    const gemm = sequentialGemm(backend);
    expect(gemm.parallel).toBe(false); // the single-threaded build's heap is not shared: the tasks run here in turn
    const [aTensor, bTensor] = [tf.tensor1d(a), tf.tensor1d(b)];
    const out = tf.fill([2 * m * n], -3);
    const [aAt, bAt, cAt] = [aTensor, bTensor, out].map(heapIndex);
    gemm.runJob({
      units: [[[4, n, 10, 0, k, 1, 0, n, 0, n, 0], [4, n, 20, 10, k, 1, 10 * n, n, 0, n, 1]], [[6, n, k, 4 * k, k, 1, 0, n, 4 * n, n, 0]]],
      bases: [aAt, bAt, cAt, aAt + m * k, bAt, cAt + m * n],
    }, 2);
    const got = out.dataSync() as Float32Array;
    expect(bitDifferences(got.slice(0, m * n), expected[0])).toBe(0);
    expect(bitDifferences(got.slice(m * n), expected[1])).toBe(0);
    tf.dispose([aTensor, bTensor, out]);
  });

  test('infinities and NaN propagate as in XNNPACK', () => {
    const [m, k, n] = [6, 4, 8];
    const a = values(m * k, 9);
    a[0] = Number.NaN;
    a[5] = Number.POSITIVE_INFINITY;
    a[10] = Number.NEGATIVE_INFINITY;
    const b = values(k * n, 10);
    const expected = xnnpack(a, b, m, k, n);
    const [aTensor, bTensor] = [tf.tensor1d(a), tf.tensor1d(b)];
    const out = tf.zeros([m * n]);
    sequentialGemm(backend).run(m, n, k, heapIndex(aTensor), k, 1, heapIndex(bTensor), n, heapIndex(out), n, false);
    expect(bitDifferences(out.dataSync() as Float32Array, expected)).toBe(0);
    tf.dispose([aTensor, bTensor, out]);
  });
});

describe('routed BatchMatMul through the sequential product', () => {
  test('A^T B (weight gradients) is bit-identical to XNNPACK on the explicit transpose, k past one chunk', () => {
    const [k, m, n] = [300, 24, 40]; // a stored [k, m]
    const a = values(k * m, 1);
    const b = values(k * n, 2);
    const aT = new Float32Array(m * k);
    for (let t = 0; t < k; t++) for (let i = 0; i < m; i++) aT[i * k + t] = a[t * m + i];
    const routed = tf.tidy(() => tf.matMul(tf.tensor2d(a, [k, m]), tf.tensor2d(b, [k, n]), true, false).dataSync() as Float32Array);
    expect(bitDifferences(routed, xnnpack(aT, b, m, k, n))).toBe(0);
  });

  test('per-head products [B, H, T, h] are bit-identical to one XNNPACK product per head, every flag', () => {
    const [batch, t, h] = [6, 20, 8];
    const q = values(batch * t * h, 3);
    const kv = values(batch * t * h, 4);
    for (const [ta, tb] of [[false, true], [true, false], [false, false]] as const) {
      // scores q k^T [t, t]; dk-like q^T x [h, ...]; P v-like: shapes chosen so the inner sizes agree
      const aShape = [2, 3, t, h];
      const bShape = tb ? [2, 3, t, h] : ta ? [2, 3, t, h] : [2, 3, h, t];
      const routed = tf.tidy(() => tf.matMul(tf.tensor4d(q, aShape as [number, number, number, number]), tf.tensor4d(kv, bShape as [number, number, number, number]), ta, tb).dataSync() as Float32Array);
      const perHead: number[] = [];
      for (let head = 0; head < batch; head++) {
        const slice = (x: Float32Array, rows: number, cols: number, flip: boolean) => {
          const part = x.slice(head * t * h, (head + 1) * t * h);
          if (!flip) return { data: part, rows, cols };
          const out = new Float32Array(part.length);
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = part[i * cols + j];
          return { data: out, rows: cols, cols: rows };
        };
        const A = slice(q, t, h, ta);
        const B = tb ? slice(kv, t, h, true) : ta ? slice(kv, t, h, false) : slice(kv, h, t, false);
        perHead.push(...xnnpack(A.data, B.data, A.rows, A.cols, B.cols));
      }
      expect(bitDifferences(routed, Float32Array.from(perHead))).toBe(0);
    }
  });
});

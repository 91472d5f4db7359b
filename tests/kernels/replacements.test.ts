import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { setFastWasmKernels } from '../../lib/kernels';

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
});

/** Runs `f` with the project's kernels and with the shipped ones; returns both results. */
function bothKernels<T>(f: () => T): { fast: T; shipped: T } {
  const fast = f();
  setFastWasmKernels(false);
  try {
    return { fast, shipped: f() };
  } finally {
    setFastWasmKernels(true);
  }
}

describe('GatherV2 on wasm', () => {
  test('picks rows of a table (repeated ids, 2-D ids, int32 tables) as the shipped kernel does', () => {
    const table = [[0, 1, 2], [10, 11, 12], [20, 21, 22], [30, 31, 32]];
    const { fast, shipped } = bothKernels(() => tf.tidy(() => [
      tf.gather(tf.tensor2d(table), tf.tensor2d([[3, 0], [3, 1]], [2, 2], 'int32')).arraySync(),
      tf.gather(tf.tensor2d(table, [4, 3], 'int32'), tf.tensor1d([2, 2], 'int32')).arraySync(),
      tf.gather(tf.tensor1d([5, 6, 7]), tf.tensor1d([2, 0], 'int32')).arraySync(),
      tf.gather(tf.tensor2d(table), tf.tensor1d([1, 0], 'int32'), 1).arraySync(), // not rows: shipped path
    ]));
    expect(fast).toEqual([
      [[[30, 31, 32], [0, 1, 2]], [[30, 31, 32], [10, 11, 12]]],
      [[20, 21, 22], [20, 21, 22]],
      [7, 5],
      [[1, 0], [11, 10], [21, 20], [31, 30]],
    ]);
    expect(fast).toEqual(shipped);
  });

  test('an index outside the table is an error naming it, and nothing is left allocated', () => {
    const buffers = tf.engine().backend.numDataIds();
    expect(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], 'int32')))).toThrow('index value 3 is not in [0, 2]');
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });
});

describe('Sum on wasm', () => {
  let x: tf.Tensor3D;
  beforeAll(() => {
    x = tf.tensor3d(Array.from({ length: 24 }, (_, i) => (i % 7) - 2.5 + i / 8), [2, 3, 4]);
  });
  afterAll(() => x.dispose());

  test('over leading axes equals hand-computed column sums and the shipped kernel', () => {
    const values = x.arraySync();
    const overRows = values[0].map((row, i) => row.map((v, j) => v + values[1][i][j]));
    const overTwo = [0, 1, 2, 3].map((j) => overRows.reduce((s, row) => s + row[j], 0));
    const { fast, shipped } = bothKernels(() => tf.tidy(() => [
      tf.sum(x, 0).dataSync().slice(),
      tf.sum(x, [1, 0], true).dataSync().slice(),
      tf.sum(x, -1).dataSync().slice(), // innermost: shipped path
    ]));
    const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
      expect(got.length).toBe(want.length);
      Array.from(got).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    };
    close(fast[0], overRows.flat());
    close(fast[1], overTwo);
    fast.forEach((f, i) => close(f, shipped[i]));
    expect(tf.tidy(() => tf.sum(x, [0, 1], true).shape)).toEqual([1, 1, 4]);
  });

  test('is the gradient of a broadcast bias add', () => {
    const grad = tf.tidy(() => tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.add(x, b), x)))(tf.zeros([4])).arraySync());
    const expected = [0, 1, 2, 3].map((j) => x.arraySync().flat().reduce((s, row) => s + row[j], 0));
    (grad as number[]).forEach((v, j) => expect(v).toBeCloseTo(expected[j], 4));
  });
});

describe('Cast on wasm', () => {
  test('to the same dtype shares the buffer (values kept after the source is disposed); other casts convert', () => {
    const buffers = tf.engine().backend.numDataIds();
    const source = tf.tensor1d([1.5, -2.25]);
    const same = tf.cast(source, 'float32');
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
    source.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25]);
    const ints = tf.cast(same, 'int32');
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual([1, -2]);
    tf.dispose([same, ints]);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });
});

describe('Slice and SplitV on wasm', () => {
  const values = Array.from({ length: 2 * 3 * 40 }, (_, i) => i * 0.5 - 7);

  test('blocks of every rank and cut agree with the shipped kernels and with plain indexing', () => {
    const cases = () => tf.tidy(() => {
      const x = tf.tensor3d(values, [2, 3, 40]);
      return [
        tf.slice(x, [1, 0, 0], [1, -1, -1]), // contiguous
        tf.slice(x, [0, 1, 0], [2, 2, 40]), // runs of 80 values
        tf.slice(x, [0, 0, 3], [2, 3, 30]), // runs of 30
        tf.slice(x, [0, 0, 3], [2, 3, 4]), // runs of 4: shipped path
        ...tf.split(tf.reshape(x, [6, 40]), [8, 16, 16], 1),
        ...tf.split(x, 2, 0),
        tf.slice(tf.reshape(x, [2, 3, 2, 20]), [1, 1, 1, 2], [1, 2, 1, 17]), // runs of 17 under two outer axes
        tf.slice(tf.reshape(x, [2, 3, 2, 20]), [0, 1, 0, 0], [2, 2, 2, 20]), // runs of 40 along axis 1
      ].map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }));
    });
    const { fast, shipped } = bothKernels(cases);
    expect(fast).toEqual(shipped);
    const at = (b: number, r: number, c: number) => values[(b * 3 + r) * 40 + c];
    expect(fast[2].shape).toEqual([2, 3, 30]);
    expect(fast[2].data[0]).toBe(at(0, 0, 3));
    expect(fast[2].data[30 * 4 + 29]).toBe(at(1, 1, 32));
    expect(fast[5].shape).toEqual([6, 16]);
    expect(fast[5].data[16 * 5]).toBe(at(1, 2, 8));
  });

  test('Concat along every axis, with int32 and bool, empty and single inputs, agrees with the shipped kernel', () => {
    const cases = () => tf.tidy(() => {
      const a = tf.tensor3d(values.slice(0, 2 * 3 * 8), [2, 3, 8]);
      const b = tf.tensor3d(values.slice(0, 2 * 3 * 5).map((v) => -v), [2, 3, 5]);
      const c = tf.tensor3d(values.slice(0, 2 * 4 * 8), [2, 4, 8]);
      const d = tf.tensor3d(values.slice(0, 1 * 3 * 8), [1, 3, 8]);
      return [
        tf.concat([a, b], 2), tf.concat([a, c], 1), tf.concat([a, d], 0), tf.concat([a, b, a], -1),
        tf.concat([tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6], [2, 1], 'int32')], 1),
        tf.concat([tf.tensor1d([true, false], 'bool'), tf.tensor1d([true], 'bool')]),
        tf.concat([a, tf.zeros([2, 3, 0])], 2), tf.concat([a]),
      ].map((t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync()) }));
    });
    const { fast, shipped } = bothKernels(cases);
    expect(fast).toEqual(shipped);
    expect(fast[0].data.slice(8, 13)).toEqual(values.slice(0, 5).map((v) => -v)); // row 0's b after a's 8 values
    expect(fast[4].data).toEqual([1, 2, 5, 3, 4, 6]);
  });

  test('the gradient of a split is the pieces put back in place', () => {
    const grad = tf.tidy(() => tf.grad((x: tf.Tensor) => {
      const [a, b] = tf.split(x, [20, 20], 1);
      return tf.add(tf.sum(tf.mul(a, 2)), tf.sum(tf.mul(b, 3)));
    })(tf.ones([3, 40])).arraySync() as number[][]);
    expect(grad[2].slice(18, 22)).toEqual([2, 2, 3, 3]);
  });
});

describe('BatchMatMul A^T B on wasm (a weight gradient)', () => {
  test.each([[3, 5], [5, 3]])('[k, %i]^T x [k, %i] (swapped to (B^T A)^T when the result is wider than tall) equals the sum by hand and the shipped kernel', (m, n) => {
    const k = 6;
    const a = Array.from({ length: k * m }, (_, i) => ((i * 7) % 11) - 5);
    const b = Array.from({ length: k * n }, (_, i) => ((i * 5) % 13) / 4 - 1.5);
    const want: number[] = [];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[p * m + i] * b[p * n + j];
        want.push(sum);
      }
    }
    const { fast, shipped } = bothKernels(() => tf.tidy(() => {
      const c = tf.matMul(tf.tensor2d(a, [k, m]), tf.tensor2d(b, [k, n]), true, false);
      return { shape: c.shape, values: Array.from(c.dataSync()) };
    }));
    expect(fast.shape).toEqual([m, n]);
    fast.values.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    shipped.values.forEach((v, i) => expect(fast.values[i]).toBeCloseTo(v, 4));
  });
});

describe('Transpose on wasm', () => {
  test.each([[[11, 3]], [[2, 9, 5]], [[2, 3, 16, 8]]])('of the last two axes of %j equals the transpose by hand and the shipped kernel', (shape) => {
    const size = shape.reduce((p, d) => p * d, 1);
    const values = Array.from({ length: size }, (_, i) => i * 0.5 - 7);
    const [rows, cols] = shape.slice(-2);
    const want = values.map((_, o) => {
      // output index o = (batch, c, r) -> source (batch, r, c)
      const batch = Math.floor(o / (rows * cols));
      const c = Math.floor((o % (rows * cols)) / rows);
      const r = o % rows;
      return values[batch * rows * cols + r * cols + c];
    });
    const perm = shape.map((_, i) => (i < shape.length - 2 ? i : 2 * shape.length - 3 - i));
    const { fast, shipped } = bothKernels(() => tf.tidy(() => {
      const out = tf.transpose(tf.tensor(values, shape), perm);
      const ints = tf.transpose(tf.tensor(values.map((v) => Math.round(v * 2)), shape, 'int32'), perm);
      return { shape: out.shape, values: Array.from(out.dataSync()), ints: Array.from(ints.dataSync()) };
    }));
    expect(fast.shape).toEqual([...shape.slice(0, -2), cols, rows]);
    expect(fast.values).toEqual(want);
    expect(fast.ints).toEqual(want.map((v) => Math.round(v * 2)));
    expect(fast).toEqual(shipped);
  });

  test('other permutations give the shipped kernel\'s result', () => {
    const { fast, shipped } = bothKernels(() => tf.tidy(() => Array.from(tf.transpose(tf.range(0, 24).reshape([2, 3, 4]), [1, 0, 2]).dataSync())));
    expect(fast).toEqual(shipped);
    expect(fast.slice(0, 8)).toEqual([0, 1, 2, 3, 12, 13, 14, 15]);
  });
});

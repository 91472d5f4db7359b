import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { setFastWasmKernels } from '../../lib/kernels';
import { TinyConfig, tinyLoss, tinyLossAndGrads, tinyParams } from './tiny-transformer';

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
});

afterEach(async () => {
  if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
});

describe('UnsortedSegmentSum on wasm', () => {
  test('sums rows that share a segment id; empty segments are zero', () => {
    const out = tf.tidy(() => tf.unsortedSegmentSum(
      tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]), tf.tensor1d([2, 0, 2, 1], 'int32'), 4).arraySync());
    expect(out).toEqual([[3, 4], [7, 8], [6, 8], [0, 0]]);
  });

  test('is the gradient of an embedding lookup with repeated ids', () => {
    const grad = tf.tidy(() => {
      const ids = tf.tensor2d([[1, 1], [3, 1]], [2, 2], 'int32');
      const weights = tf.tensor3d([[[1, 10], [2, 20]], [[3, 30], [4, 40]]]);
      const f = (table: tf.Tensor) => tf.sum(tf.mul(tf.gather(table, ids), weights));
      return tf.grad(f)(tf.zeros([5, 2])).arraySync();
    });
    // Row 1 collects positions (0,0), (0,1), (1,1); row 3 collects (1,0).
    expect(grad).toEqual([[0, 0], [7, 70], [0, 0], [3, 30], [0, 0]]);
  });

  test('an id outside [0, numSegments) is an error naming its position, not a stray write', () => {
    expect(() => tf.tidy(() => tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, 5, 1], 'int32'), 3)))
      .toThrow('segmentIds[1] = 5 is outside [0, 3)');
  });
});

describe('Pow on wasm', () => {
  const base = [-2.5, -1, -0.3, 0, 0.7, 1.5, 3];

  test.each([1, 2, 3, 4, 2.5, -1])('x ** %d matches Math.pow and the shipped kernel', (n) => {
    const inputs = n === 2.5 ? base.map(Math.abs) : base.filter((x) => n >= 0 || x !== 0);
    const power = () => tf.tidy(() => tf.pow(tf.tensor1d(inputs), n).dataSync().slice());
    const fast = power();
    setFastWasmKernels(false);
    const shipped = power();
    setFastWasmKernels(true);
    inputs.forEach((x, i) => {
      expect(fast[i]).toBeCloseTo(Math.pow(x, n), 5);
      expect(fast[i]).toBeCloseTo(shipped[i], 5);
    });
  });

  test('the gradient of x^3 is 3 x^2 and repeated calls release their intermediates', () => {
    const grad = () => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.pow(x, 3)))(tf.tensor1d(base)).dataSync().slice());
    grad();
    const buffers = tf.engine().backend.numDataIds();
    const g = grad();
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    base.forEach((x, i) => expect(g[i]).toBeCloseTo(3 * x * x, 5));
  });

  test('a tensor exponent still goes to the shipped kernel', () => {
    const out = tf.tidy(() => tf.pow(tf.tensor1d([2, 3]), tf.tensor1d([3, 2])).arraySync());
    expect(out).toEqual([8, 9]);
  });
});

describe('Identity on wasm', () => {
  test('a clone shares the buffer, keeps its values when the original is disposed, and frees it last', () => {
    const buffers = tf.engine().backend.numDataIds();
    const original = tf.tensor2d([[1, 2], [3, 4]]);
    const copy = tf.clone(original);
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
    original.dispose();
    expect(copy.arraySync()).toEqual([[1, 2], [3, 4]]);
    copy.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });
});

function relativeDiff(x: Float32Array, y: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
}

describe.each(['gpt2', 'llama'] as const)('a %s block trains on wasm', (arch) => {
  const config: TinyConfig = { arch, vocab: 37, d: 16, heads: 2, seq: 8, batch: 3 };
  const ids = [[1, 5, 9, 2, 2, 30, 4, 4], [0, 36, 7, 7, 7, 1, 2, 3], [11, 12, 13, 14, 15, 16, 17, 18]];

  test('loss and every gradient agree with the cpu backend', async () => {
    const params = tinyParams(config);
    const onWasm = tinyLossAndGrads(config, params, ids);
    await tf.setBackend('cpu');
    const onCpu = tinyLossAndGrads(config, params, ids);
    expect(Math.abs(onWasm.loss - onCpu.loss)).toBeLessThan(1e-5 * Math.abs(onCpu.loss));
    const disagreeing = Object.keys(onCpu.grads).filter((name) => !(relativeDiff(onWasm.grads[name], onCpu.grads[name]) < 1e-4));
    expect(disagreeing).toEqual([]);
  });

  test('20 Adam steps: the loss falls and no tensor is left behind', () => {
    const params = tinyParams(config);
    const vars = Object.fromEntries(Object.entries(params).map(([n, p]) => [n, tf.variable(tf.tensor(p.values, p.shape))]));
    const idsT = tf.tensor2d(ids, [config.batch, config.seq], 'int32');
    const optimizer = tf.train.adam(0.01);
    const step = () => {
      const loss = optimizer.minimize(() => tinyLoss(config, vars, idsT), true) as tf.Scalar;
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    };
    const first = step(); // creates the optimizer's slots
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 19; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last).toBeLessThan(first * 0.7);
    optimizer.dispose();
    tf.dispose([idsT, ...Object.values(vars)]);
  });
});

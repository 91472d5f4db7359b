import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { AdamW } from '../../lib/train/adamw';
import { clipByGlobalNorm, globalNormScale } from '../../lib/train/clip';
import { squaredNorm } from '../../lib/kernels';
import { maskedCrossEntropy } from '../../lib/train/loss';
import { warmupCosine } from '../../lib/train/schedule';

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

test('warmupCosine: linear warmup to the peak, half cosine to minLr, flat after', () => {
  const options = { peakLr: 1e-3, warmupSteps: 4, totalSteps: 14, minLr: 1e-4 };
  expect(warmupCosine(0, options)).toBeCloseTo(2.5e-4, 12);
  expect(warmupCosine(3, options)).toBeCloseTo(1e-3, 12);
  expect(warmupCosine(4, options)).toBeCloseTo(1e-3, 12);
  expect(warmupCosine(9, options)).toBeCloseTo(1e-4 + 0.5 * 9e-4, 12); // halfway: cos(pi/2) = 0
  expect(warmupCosine(14, options)).toBeCloseTo(1e-4, 12);
  expect(warmupCosine(100, options)).toBeCloseTo(1e-4, 12);
});

test('maskedCrossEntropy averages -log p(target) over masked positions only', () => {
  // row 0: logits [0, ln 3] -> p = [1/4, 3/4]; row 1: logits [ln 2, 0] -> p = [2/3, 1/3]
  const logits = tf.tensor3d([[[0, Math.log(3)], [Math.log(2), 0], [5, -5]]]);
  const targets = tf.tensor2d([[1, 0, 1]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 0]]);
  const loss = maskedCrossEntropy(logits, targets, mask);
  expect(loss.dataSync()[0]).toBeCloseTo((-Math.log(3 / 4) - Math.log(2 / 3)) / 2, 6);
  const weighted = maskedCrossEntropy(logits, targets, tf.tensor2d([[0.5, 0, 0]]));
  expect(weighted.dataSync()[0]).toBeCloseTo(-Math.log(3 / 4), 6);
  tf.dispose([logits, targets, mask, loss, weighted]);
});

test('clipByGlobalNorm scales by maxNorm / norm only when the norm is larger', () => {
  const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor2d([[0, 4]]) }; // global norm 5
  const clipped = clipByGlobalNorm(grads, 1);
  expect(clipped.norm.dataSync()[0]).toBeCloseTo(5, 6);
  expect(Array.from(clipped.grads.a.dataSync())).toEqual([expect.closeTo(0.6, 5), 0]);
  expect(Array.from(clipped.grads.b.dataSync())).toEqual([0, expect.closeTo(0.8, 5)]);
  const untouched = clipByGlobalNorm(grads, 10);
  expect(Array.from(untouched.grads.b.dataSync())).toEqual([0, expect.closeTo(4, 5)]);
  tf.dispose([grads, clipped, untouched] as never);
});

test('globalNormScale: the norm and clipping factor by hand, and (on wasm) SquaredNorm gives the composite ops\' bits', () => {
  const { norm, scale } = globalNormScale({ a: tf.tensor1d([3, 0]), b: tf.tensor2d([[0, 4]]) }, 2);
  expect(norm.dataSync()[0]).toBeCloseTo(5, 6);
  expect(scale.dataSync()[0]).toBeCloseTo(2 / (5 + 1e-6), 6);
  expect(globalNormScale({ a: tf.tensor1d([0.3, 0.4]) }, 2).scale.dataSync()[0]).toBe(1);
  expect(globalNormScale({}, 1).norm.dataSync()[0]).toBe(0);
  const xs = [97, 1000, 3, 4099].map((n, k) => tf.tensor1d(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * (k + 1))));
  const fused = squaredNorm(xs);
  if (tf.getBackend() === 'wasm') {
    const composite = tf.addN(xs.map((x) => tf.sum(tf.square(x))));
    expect(Object.is(fused!.dataSync()[0], composite.dataSync()[0])).toBe(true);
    let byHand = 0; // float32 sums in order, as the kernel documents
    for (const x of xs) {
      let own = 0;
      for (const v of x.dataSync()) own = Math.fround(own + Math.fround(v * v));
      byHand = Math.fround(byHand + own);
    }
    expect(fused!.dataSync()[0]).toBe(byHand);
  } else {
    expect(fused).toBeUndefined(); // another backend runs the composite ops
  }
  tf.dispose([norm, scale, ...xs]);
});

test('AdamW.apply with a clipping factor gives the same weights and moments as applying pre-clipped gradients', () => {
  const start = { w: tf.tensor2d([[1, -2, 0.5], [0.25, 3, -1]]), b: tf.tensor1d([0.5, -0.75]) };
  const grads = { w: tf.tensor2d([[0.2, -0.4, 3], [1e-3, -7, 0.1]]), b: tf.tensor1d([1, -2.5]) };
  const run = (scaled: boolean) => {
    const params = { w: tf.variable(start.w.clone()), b: tf.variable(start.b.clone()) };
    const opt = new AdamW(params, { weightDecay: 0.1 });
    for (let i = 0; i < 2; i++) {
      if (scaled) {
        const { scale } = globalNormScale(grads, 1.5);
        opt.apply(grads, 0.01, scale);
        scale.dispose();
      } else {
        const clipped = clipByGlobalNorm(grads, 1.5);
        opt.apply(clipped.grads, 0.01);
        tf.dispose([clipped.norm, ...Object.values(clipped.grads)]);
      }
    }
    const values = [params.w, params.b].map((p) => Array.from(p.dataSync()));
    opt.dispose();
    tf.dispose(Object.values(params));
    return values;
  };
  expect(run(true)).toEqual(run(false)); // toEqual on numbers is Object.is: the same bits
  tf.dispose([...Object.values(start), ...Object.values(grads)]);
});

test('AdamW: two updates against hand-computed values, decay on matrices only', () => {
  const w = tf.variable(tf.tensor2d([[1, -2]]));
  const b = tf.variable(tf.tensor1d([0.5]));
  const opt = new AdamW({ w, b }, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
  const lr = 0.01;
  opt.apply({ w: tf.tensor2d([[0.2, -0.4]]), b: tf.tensor1d([1]) }, lr);
  // update 1: m^ = g, v^ = g^2, so the Adam term is sign(g) (up to eps)
  const w1 = [1 - lr * (1 + 0.1 * 1), -2 - lr * (-1 + 0.1 * -2)];
  const b1 = 0.5 - lr * 1;
  expect(Array.from(w.dataSync())).toEqual(w1.map((x) => expect.closeTo(x, 6)));
  expect(b.dataSync()[0]).toBeCloseTo(b1, 6);
  opt.apply({ w: tf.tensor2d([[0, 0]]), b: tf.tensor1d([-1]) }, lr);
  // update 2 for b: m = 0.9*0.1 + 0.1*(-1) = -0.01, v = 0.99*0.01 + 0.01*1 = 0.0199
  const mHat = -0.01 / (1 - 0.81);
  const vHat = 0.0199 / (1 - 0.99 ** 2);
  expect(b.dataSync()[0]).toBeCloseTo(b1 - (lr * mHat) / (Math.sqrt(vHat) + 1e-8), 6);
  // update 2 for w[0]: m = 0.9*0.1*0.2 = 0.018, v = 0.99*0.01*0.04
  const mw = (0.1 * 0.2 * 0.9) / 0.19;
  const vw = (0.99 * 0.01 * 0.04) / (1 - 0.99 ** 2);
  expect(w.dataSync()[0]).toBeCloseTo(w1[0] - lr * (mw / (Math.sqrt(vw) + 1e-8) + 0.1 * w1[0]), 6);
  expect(opt.step).toBe(2);
  opt.dispose();
  tf.dispose([w, b]);
});

test('AdamW state round-trips through getState / setState', async () => {
  const w = tf.variable(tf.tensor2d([[1, 2]]));
  const opt = new AdamW({ w });
  opt.apply({ w: tf.tensor2d([[0.3, -0.1]]) }, 0.1);
  const state = await opt.getState();
  const other = new AdamW({ w });
  other.setState(state);
  expect(other.step).toBe(1);
  expect(Array.from((await other.getState()).slots.get('v.w')!.data)).toEqual(Array.from(state.slots.get('v.w')!.data));
  expect(() => other.setState({ step: 1, slots: new Map() }, 'x/optimizer.safetensors')).toThrow('x/optimizer.safetensors: slot "m.w" is missing');
  opt.dispose();
  other.dispose();
  w.dispose();
});

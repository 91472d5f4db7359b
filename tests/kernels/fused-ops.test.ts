import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { adamwStep, decodeAttention, geluArgument, geluTanhGrad, rowNorm, rowNormForward, rowNormGrad, softmaxGrad } from '../../lib/kernels';
import { GELU_A, GELU_C } from '../../lib/kernels/gelu-grad';
import { attention, attentionBias, geluTanh, layerNorm, rmsNorm, softmax, splitHeads } from '../../lib/model/layers';

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
      gradScale: 1, lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5, correction1: 1 - 0.9 ** 3, correction2: 1 - 0.99 ** 3,
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

describe('DecodeAttention', () => {
  test('one query against two keys by hand; a masked key gets no weight', () => {
    tf.tidy(() => {
      const step = { q: tf.tensor2d([[2, 0]]), k: tf.tensor2d([[0, 1]]), v: tf.tensor2d([[3, 4]]) };
      const past = { k: tf.tensor4d([[[[1, 0]]]]), v: tf.tensor4d([[[[1, 2]]]]) };
      const attrs = { heads: 1, kvHeads: 1 };
      const both = decodeAttention(step, tf.tensor2d([[1, 1]], undefined, 'int32'), past, attrs)!;
      // scores (q.k / sqrt 2) = [sqrt 2, 0]; p0 = 1 / (1 + e^-sqrt2)
      const p0 = 1 / (1 + Math.exp(-Math.SQRT2));
      closeTo(both.out.dataSync(), [p0 * 1 + (1 - p0) * 3, p0 * 2 + (1 - p0) * 4]);
      // keys come back transposed, [B, Hkv, h, S]: row t holds dimension t of every position
      closeTo(both.keys.dataSync(), [1, 0, 0, 1]);
      closeTo(both.values.dataSync(), [1, 2, 3, 4]);
      expect(both.keys.shape).toEqual([1, 1, 2, 2]);
      const past2 = { k: tf.tensor4d([[[[1, 5]]]]), v: tf.tensor4d([[[[1, 2]]]]) };
      expect(Array.from(decodeAttention(step, tf.tensor2d([[1, 1]], undefined, 'int32'), past2, attrs)!.keys.dataSync())).toEqual([1, 0, 5, 1]);
      const firstOnly = decodeAttention(step, tf.tensor2d([[1, 0]], undefined, 'int32'), past, attrs)!;
      closeTo(firstOnly.out.dataSync(), [1, 2]);
    });
  });

  test.each([[4, 4], [4, 2]])('matches the composite attention and cache concat (%i heads, %i kv heads), with padding and on the first step', (heads, kvHeads) => {
    tf.tidy(() => {
      const [batch, h, past] = [3, 8, 5];
      const q = tf.randomNormal([batch, heads * h], 0, 1, 'float32', 1) as tf.Tensor2D;
      const k = tf.randomNormal([batch, kvHeads * h], 0, 1, 'float32', 2) as tf.Tensor2D;
      const v = tf.randomNormal([batch, kvHeads * h], 0, 1, 'float32', 3) as tf.Tensor2D;
      const pastK = tf.randomNormal([batch, kvHeads, past, h], 0, 1, 'float32', 4) as tf.Tensor4D;
      const pastV = tf.randomNormal([batch, kvHeads, past, h], 0, 1, 'float32', 5) as tf.Tensor4D;
      // row 1 left-padded by two, row 2 finished (this step's token is padding)
      const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]], undefined, 'int32');
      const got = decodeAttention({ q, k, v }, mask, { k: pastK, v: pastV }, { heads, kvHeads })!;
      const keys = tf.concat([pastK, splitHeads(k, batch, kvHeads)], 2) as tf.Tensor4D;
      const values = tf.concat([pastV, splitHeads(v, batch, kvHeads)], 2) as tf.Tensor4D;
      const want = attention(splitHeads(q, batch, heads), keys, values, attentionBias(mask, 1, past));
      expect(got.out.shape).toEqual([batch, heads * h]);
      closeTo(got.out.dataSync(), want.dataSync());
      expect(got.keys.dataSync()).toEqual(tf.transpose(keys, [0, 1, 3, 2]).dataSync());
      expect(got.values.dataSync()).toEqual(values.dataSync());
      const first = decodeAttention({ q, k, v }, tf.ones([batch, 1], 'int32') as tf.Tensor2D, undefined, { heads, kvHeads })!;
      // one key: the output is its value, for every query head of its group
      const vRows = v.arraySync();
      const expected = vRows.flatMap((row) => Array.from({ length: heads }, (_, j) => row.slice(Math.floor(j / (heads / kvHeads)) * h, (Math.floor(j / (heads / kvHeads)) + 1) * h)).flat());
      closeTo(first.out.dataSync(), expected);
    });
  });

  test('free slots: the step is written in place into the same buffers, and every output equals the exact-size one bit for bit', () => {
    tf.tidy(() => {
      const [batch, heads, kvHeads, h, prompt] = [2, 4, 2, 8, 3];
      const rows = (seed: number, width: number) => tf.randomNormal([batch, width], 0, 1, 'float32', seed) as tf.Tensor2D;
      const attrs = { heads, kvHeads };
      const start = { k: tf.randomNormal([batch, kvHeads, prompt, h], 0, 1, 'float32', 1) as tf.Tensor4D, v: tf.randomNormal([batch, kvHeads, prompt, h], 0, 1, 'float32', 2) as tf.Tensor4D };
      let [exact, slotted] = [start, start];
      let transposed = false;
      for (let step = 0; step < 4; step++) {
        const keyLength = prompt + step + 1;
        const mask = tf.tensor2d([Array(keyLength).fill(1), [0, ...Array(keyLength - 1).fill(1)]], undefined, 'int32'); // row 1 left-padded
        const inputs = { q: rows(10 + step, heads * h), k: rows(20 + step, kvHeads * h), v: rows(30 + step, kvHeads * h) };
        // the exact-size cache: rows-layout keys of exactly S - 1 positions every step
        const want = decodeAttention(inputs, mask, exact, attrs)!;
        const got = decodeAttention(inputs, mask, slotted, { ...attrs, slots: 6, keysTransposed: transposed })!;
        expect(got.out.dataSync()).toEqual(want.out.dataSync());
        // grown once to 6 slots at the first step, then written in place (the same data) until full; then grown again
        const slots = keyLength <= 6 ? 6 : keyLength;
        expect(got.values.shape).toEqual([batch, kvHeads, slots, h]);
        expect(got.keys.shape).toEqual([batch, kvHeads, h, slots]);
        const inPlace = step > 0 && keyLength <= 6;
        expect(got.keys.dataId === slotted.k.dataId).toBe(inPlace);
        expect(got.values.dataId === slotted.v.dataId).toBe(inPlace);
        expect(tf.slice(got.keys, [0, 0, 0, 0], [-1, -1, -1, keyLength]).dataSync()).toEqual(want.keys.dataSync());
        expect(tf.slice(got.values, [0, 0, 0, 0], [-1, -1, keyLength, -1]).dataSync()).toEqual(want.values.dataSync());
        exact = { k: tf.transpose(want.keys, [0, 1, 3, 2]) as tf.Tensor4D, v: want.values };
        slotted = { k: got.keys, v: got.values };
        transposed = true;
      }
    });
  });

  // The shipped wasm loop that ran decoding's two products before (it sums the inner axis in blocks of 48): the
  // kernel must give its bits, so that sampled tokens, and every seeded result, stay the same.
  test.each([[1, 64, 30], [1, 64, 97], [2, 100, 49], [2, 40, 150], [1, 32, 520]])('bit-identical to the shipped loop\'s products, %i query heads per kv head, head width %i, %i keys', (group, h, keyLength) => {
    tf.tidy(() => {
      const [batch, kvHeads] = [3, 2];
      const heads = kvHeads * group;
      const past = keyLength - 1;
      const q = tf.randomNormal([batch, heads * h], 0, 1, 'float32', 1) as tf.Tensor2D;
      const k = tf.randomNormal([batch, kvHeads * h], 0, 1, 'float32', 2) as tf.Tensor2D;
      const v = tf.randomNormal([batch, kvHeads * h], 0, 1, 'float32', 3) as tf.Tensor2D;
      const pastK = tf.randomNormal([batch, kvHeads, past, h], 0, 1, 'float32', 4) as tf.Tensor4D;
      const pastV = tf.randomNormal([batch, kvHeads, past, h], 0, 1, 'float32', 5) as tf.Tensor4D;
      const maskRows = Array.from({ length: batch }, (_, b) => Array.from({ length: keyLength }, (_, s) => (s < 2 * b ? 0 : 1)));
      const got = decodeAttention({ q, k, v }, tf.tensor2d(maskRows, undefined, 'int32'), { k: pastK, v: pastV }, { heads, kvHeads })!;
      // reference: the shipped loop (BatchMatMul keeps it for products of a few rows by a fresh operand)
      const keys = tf.reshape(tf.concat([pastK, splitHeads(k, batch, kvHeads)], 2), [batch * kvHeads, keyLength, h]);
      const values = tf.reshape(tf.concat([pastV, splitHeads(v, batch, kvHeads)], 2), [batch * kvHeads, keyLength, h]);
      const scores = tf.matMul(tf.reshape(q, [batch * kvHeads, group, h]), keys, false, true).dataSync() as Float32Array;
      const probs = new Float32Array(scores.length);
      for (let row = 0; row < batch * heads; row++) {
        const b = Math.floor(row / heads);
        const z = Array.from(scores.subarray(row * keyLength, (row + 1) * keyLength), (x, s) => {
          const scaled = Math.fround(x * (1 / Math.sqrt(h)));
          return maskRows[b][s] ? scaled : Math.fround(scaled - 1e9);
        });
        const max = Math.max(...z);
        const e = z.map((x) => Math.exp(x - max)); // summed in double, each stored as float32 before the division
        const total = e.reduce((a, x) => a + x, 0);
        e.forEach((x, s) => { probs[row * keyLength + s] = Math.fround(x) / total; });
      }
      const want = tf.matMul(tf.tensor3d(probs, [batch * kvHeads, group, keyLength]), values);
      expect(got.out.dataSync()).toEqual(want.dataSync());
    });
  });

  test('rejects a cache whose shape does not fit the step', () => {
    tf.tidy(() => {
      const step = { q: tf.ones([2, 8]) as tf.Tensor2D, k: tf.ones([2, 8]) as tf.Tensor2D, v: tf.ones([2, 8]) as tf.Tensor2D };
      const past = { k: tf.ones([2, 2, 3, 4]) as tf.Tensor4D, v: tf.ones([2, 2, 3, 4]) as tf.Tensor4D };
      expect(() => decodeAttention(step, tf.ones([2, 5]) as tf.Tensor2D, past, { heads: 2, kvHeads: 2 }))
        .toThrow('input "pastV" has 3 positions but keyMask needs 4 cached ones');
      expect(() => decodeAttention(step, tf.ones([2, 4]) as tf.Tensor2D, { k: past.k, v: tf.ones([2, 2, 4, 4]) as tf.Tensor4D }, { heads: 2, kvHeads: 2 }))
        .toThrow('input "pastK" has shape [2,2,3,4] but needs [2,2,4,4]');
      expect(() => decodeAttention(step, tf.ones([2, 4]) as tf.Tensor2D, undefined, { heads: 2, kvHeads: 2 }))
        .toThrow('keyMask has 4 columns but no cached keys/values were given');
    });
  });
});

describe('RowNormGrad (the gradient of layerNorm and rmsNorm)', () => {
  // The norms as plain ops, differentiated by tfjs: the reference for the written-out gradient.
  const referenceLayerNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const centered = tf.sub(x, tf.mean(x, -1, true));
    return tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(tf.mean(tf.square(centered), -1, true), 1e-5))), g), b);
  };
  const referenceRmsNorm = (x: tf.Tensor, g: tf.Tensor) => tf.mul(tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), g);
  const x = () => tf.tensor2d(Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 4)), [5, 6]);
  const g = () => tf.tensor1d([1, -0.5, 2, 0.25, 1.5, -1]);
  const b = () => tf.tensor1d([0.1, 0.2, -0.3, 0, 0.5, 1]);
  // a loss that weights every output differently, so each gradient entry is exercised
  const upstream = () => tf.tensor2d(Array.from({ length: 30 }, (_, i) => Math.cos(i * 0.9)), [5, 6]);
  const lossOf = (y: tf.Tensor) => tf.sum(tf.mul(y, upstream()));

  const compare = () => tf.tidy(() => {
    const got = tf.grads((xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => lossOf(layerNorm(xs as tf.Tensor2D, gs as tf.Tensor1D, bs as tf.Tensor1D, 1e-5)))([x(), g(), b()]);
    const want = tf.grads((xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => lossOf(referenceLayerNorm(xs, gs, bs)))([x(), g(), b()]);
    got.forEach((t, i) => closeTo(t.dataSync(), want[i].dataSync(), 4));
    const gotRms = tf.grads((xs: tf.Tensor, gs: tf.Tensor) => lossOf(rmsNorm(xs as tf.Tensor2D, gs as tf.Tensor1D, 1e-5)))([x(), g()]);
    const wantRms = tf.grads((xs: tf.Tensor, gs: tf.Tensor) => lossOf(referenceRmsNorm(xs, gs)))([x(), g()]);
    gotRms.forEach((t, i) => closeTo(t.dataSync(), wantRms[i].dataSync(), 4));
    // the forward values are the composite ops' own
    closeTo(layerNorm(x(), g(), b(), 1e-5).dataSync(), referenceLayerNorm(x(), g(), b()).dataSync());
  });

  test('on wasm (the kernel) equals the automatic gradient of the plain ops, for x, gain and bias', () => {
    expect(tf.getKernel('RowNormGrad', 'wasm')).toBeDefined();
    compare();
  });

  test('on a backend without the kernel (the same formula in ops) equals it too', async () => {
    await tf.setBackend('cpu');
    compare();
  });

  test('rows in several blocks (and a row wider than a block) give the plain ops\' gradient', () => {
    tf.tidy(() => {
      for (const [rows, width] of [[9, 4096], [2, 20000]]) {
        const xs = tf.randomNormal([rows, width], 0, 2, 'float32', 7) as tf.Tensor2D;
        const gs = tf.randomNormal([width], 1, 0.5, 'float32', 8) as tf.Tensor1D;
        const bs = tf.randomNormal([width], 0, 1, 'float32', 9) as tf.Tensor1D;
        const dy = tf.randomNormal([rows, width], 0, 1, 'float32', 10);
        const got = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(layerNorm(a as tf.Tensor2D, c as tf.Tensor1D, d as tf.Tensor1D, 1e-5), dy)))([xs, gs, bs]);
        const want = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(referenceLayerNorm(a, c, d), dy)))([xs, gs, bs]);
        got.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, want[i]))).dataSync()[0]).toBeLessThan(1e-3 * Math.max(1, tf.max(tf.abs(want[i])).dataSync()[0])));
      }
    });
  });

  test('the kernel returns zero bias gradients for RMSNorm and rejects shapes that do not fit', () => {
    tf.tidy(() => {
      const [, , dBias] = rowNormGrad(upstream(), x(), tf.ones([5, 1]) as tf.Tensor2D, g(), false)!;
      expect(Array.from(dBias.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
      expect(() => rowNormGrad(upstream(), x(), tf.ones([4, 1]) as tf.Tensor2D, g(), true)).toThrow('RowNormGrad: dy [5,6], xhat [5,6], rstd [4,1]');
    });
  });

  test('a training step through the norms leaves no tensor behind', () => {
    const [xs, gs, bs] = [x(), g(), b()];
    const step = () => tf.tidy(() => {
      tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => lossOf(layerNorm(a as tf.Tensor2D, c as tf.Tensor1D, d as tf.Tensor1D, 1e-5)))([xs, gs, bs]);
    });
    step();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([xs, gs, bs]);
  });
});

describe('SoftmaxGrad (the gradient of softmax over the last axis)', () => {
  // widths past a multiple of 4 (the kernel takes four values a step, then one at a time)
  const logits = (width: number) => tf.tensor3d(Array.from({ length: 3 * 5 * width }, (_, i) => Math.sin(i * 0.71) * 6), [3, 5, width]);
  const upstream = (width: number) => tf.tensor3d(Array.from({ length: 3 * 5 * width }, (_, i) => Math.cos(i * 0.29)), [3, 5, width]);
  const gradients = (width: number) => tf.tidy(() => {
    const dy = upstream(width);
    const mine = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(softmax(x), dy)))(logits(width));
    const tfjs = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(x), dy)))(logits(width));
    return { mine: Array.from(mine.dataSync()), tfjs: Array.from(tfjs.dataSync()) };
  });

  test('on wasm (the kernel) gives the bits of tfjs\'s own gradient of tf.softmax, for widths 1, 7, 13 and 128', () => {
    expect(tf.getKernel('SoftmaxGrad', 'wasm')).toBeDefined();
    for (const width of [1, 7, 13, 128]) {
      const { mine, tfjs } = gradients(width);
      expect(mine).toEqual(tfjs); // toEqual on numbers is Object.is: the same bits
    }
  });

  test('on a backend without the kernel (tfjs\'s formula in ops) equals it too', async () => {
    await tf.setBackend('cpu');
    const { mine, tfjs } = gradients(13);
    expect(mine).toEqual(tfjs);
  });

  test('by hand on one row: dx = y (dy - sum(dy y)), and mismatched shapes are an error', () => {
    tf.tidy(() => {
      const y = [0.1, 0.2, 0.3, 0.4, 0];
      const dy = [1, -2, 0.5, 3, 7];
      const dot = y.reduce((sum, v, i) => sum + v * dy[i], 0);
      closeTo(softmaxGrad(tf.tensor1d(dy), tf.tensor1d(y))!.dataSync(), y.map((v, i) => v * (dy[i] - dot)), 6);
      expect(() => softmaxGrad(tf.ones([2, 3]), tf.ones([3, 2]))).toThrow('SoftmaxGrad: dy [2,3] and y [3,2] must have the same shape');
    });
  });
});

test('RowNormForward is the composite ops of a LayerNorm and an RMSNorm (y, xhat, rstd), bit for bit, and undefined on cpu', async () => {
  const x = tf.tensor2d(Array.from({ length: 5 * 13 }, (_, i) => Math.cos(i * 0.9) * (1 + (i % 4))), [5, 13]);
  const g = tf.tensor1d(Array.from({ length: 13 }, (_, i) => 0.5 + i / 7));
  const b = tf.tensor1d(Array.from({ length: 13 }, (_, i) => Math.sin(i)));
  const same = (got: tf.Tensor, want: tf.Tensor) => Array.from(got.dataSync()).map((v, i) => Object.is(v, want.dataSync()[i]));
  tf.tidy(() => {
    for (const bias of [b, undefined]) {
      const centered = bias ? tf.sub(x, tf.mean(x, -1, true)) : x;
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), 1e-5));
      const xhat = tf.mul(centered, rstd);
      const y = bias ? tf.add(tf.mul(xhat, g), bias) : tf.mul(xhat, g);
      const fused = rowNormForward(x, g, bias, 1e-5)!;
      expect(fused.map((t) => t.shape)).toEqual([[5, 13], [5, 13], [5, 1]]);
      [y, xhat, rstd].forEach((want, i) => expect(same(fused[i], want)).not.toContain(false));
    }
  });
  await tf.setBackend('cpu');
  expect(rowNormForward(x, g, b, 1e-5)).toBeUndefined();
  tf.dispose([x, g, b]);
});

test('GeluArgument is the composite ops of geluTanh\'s sigmoid argument, bit for bit, and undefined on cpu', async () => {
  const x = tf.tensor2d(Array.from({ length: 6 * 7 }, (_, i) => Math.sin(i * 1.7) * (i % 5) * 1.3), [6, 7]);
  const composite = tf.tidy(() => Array.from(tf.mul(x, tf.add(2 * GELU_C, tf.mul(2 * GELU_A * GELU_C, tf.square(x)))).dataSync()));
  const fused = geluArgument(x)!;
  expect(fused.shape).toEqual([6, 7]);
  expect(Array.from(fused.dataSync()).map((v, i) => Object.is(v, composite[i]))).not.toContain(false);
  fused.dispose();
  await tf.setBackend('cpu');
  expect(geluArgument(x)).toBeUndefined();
  x.dispose();
});

describe('GeluTanhGrad (the gradient of geluTanh)', () => {
  // GELU as plain ops (0.5 x (1 + tanh u)), differentiated by tfjs: the reference.
  const referenceGelu = (x: tf.Tensor) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  // an odd count of values (the kernel takes two a step, then the last alone)
  const size = 40001;
  const x = () => tf.tensor1d(Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 4));
  const dy = () => tf.tensor1d(Array.from({ length: size }, (_, i) => Math.cos(i * 0.11)));
  const compare = () => tf.tidy(() => {
    const got = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(geluTanh(xs), dy())))(x());
    const want = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(referenceGelu(xs), dy())))(x());
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
    expect(maxDiff(geluTanh(x()), referenceGelu(x()))).toBeLessThan(1e-5);
  });

  test('on wasm (the kernel) equals the automatic gradient of 0.5 x (1 + tanh u) on 40,001 values', () => {
    expect(tf.getKernel('GeluTanhGrad', 'wasm')).toBeDefined();
    compare();
  });

  test('on a backend without the kernel (the same formula in ops) equals it too', async () => {
    await tf.setBackend('cpu');
    compare();
  });

  test('by hand at x = 1: dy * gelu\'(1), and mismatched shapes are an error', () => {
    tf.tidy(() => {
      const c = Math.sqrt(2 / Math.PI);
      const u = c * (1 + 0.044715);
      const s = 1 / (1 + Math.exp(-2 * u));
      const want = 3 * (s + s * (1 - s) * 2 * c * (1 + 3 * 0.044715));
      closeTo(geluTanhGrad(tf.tensor1d([1]), tf.tensor1d([s]), tf.tensor1d([3]))!.dataSync(), [want]);
      expect(() => geluTanhGrad(tf.ones([2]), tf.ones([3]), tf.ones([2]))).toThrow('GeluTanhGrad: x [2], s [3] and dy [2] differ in shape');
    });
  });
});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { applyRotary, attention, attentionBias, geluTanh, layerNorm, rmsNorm, rotaryTables } from '../../lib/model/layers';

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

const close = (got: ArrayLike<number>, want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(tol));
};

test('layerNorm, rmsNorm and tanh-GELU against hand-computed values', () => {
  const x = tf.tensor2d([[1, 2, 3, 6]]); // mean 3, variance 3.5, mean square 12.5
  const g = tf.tensor1d([1, 2, 1, 1]);
  const b = tf.tensor1d([0, 0, 1, 0]);
  close(layerNorm(x, g, b, 0).dataSync(), [-2 / Math.sqrt(3.5), -2 / Math.sqrt(3.5), 1, 3 / Math.sqrt(3.5)]);
  close(rmsNorm(x, g, 0).dataSync(), [1, 4, 3, 6].map((v) => v / Math.sqrt(12.5)));
  const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  close(geluTanh(tf.tensor1d([-1, 0.5, 2])).dataSync(), [gelu(-1), gelu(0.5), gelu(2)]);
});

test("rotary embedding follows HF's apply_rotary_pos_emb (rotate_half, cos = cat(freqs, freqs))", () => {
  const headSize = 6, heads = 2, theta = 100;
  const positions = [0, 3, 7];
  const x = Array.from({ length: positions.length * heads * headSize }, (_, i) => Math.sin(i + 1));
  // reference, straight from the HF formula: inv_freq_i = theta^(-2i/h); out = x cos + rotate_half(x) sin
  const want: number[] = [];
  positions.forEach((p, row) => {
    for (let h = 0; h < heads; h++) {
      const v = x.slice((row * heads + h) * headSize, (row * heads + h + 1) * headSize);
      const half = headSize / 2;
      const rotated = [...v.slice(half).map((u) => -u), ...v.slice(0, half)];
      v.forEach((u, j) => {
        const angle = p * theta ** (-(2 * (j % half)) / headSize);
        want.push(u * Math.cos(angle) + rotated[j] * Math.sin(angle));
      });
    }
  });
  const tables = rotaryTables(8, headSize, theta);
  const index = tf.tensor1d(positions, 'int32');
  const got = applyRotary(tf.tensor2d(x, [3, heads * headSize]), heads, tf.gather(tables.cos, index), tf.gather(tables.sin, index), tables.rotateHalf);
  close(got.dataSync(), want);
});

test('grouped-query attention: query head j reads kv head floor(j / group), causal and padding masks respected', () => {
  const [B, H, Hkv, T, h] = [1, 4, 2, 3, 2];
  const q = Array.from({ length: B * H * T * h }, (_, i) => Math.cos(i * 0.7));
  const k = Array.from({ length: B * Hkv * T * h }, (_, i) => Math.sin(i * 1.3));
  const v = Array.from({ length: B * Hkv * T * h }, (_, i) => i * 0.1);
  const keyMask = [0, 1, 1]; // the first key is padding
  const at = (arr: number[], head: number, t: number, c: number) => arr[(head * T + t) * h + c]; // [B=1, heads, T, h]
  const want = new Array(T * H * h).fill(0);
  for (let head = 0; head < H; head++) {
    const kvHead = Math.floor(head / (H / Hkv));
    for (let t = 0; t < T; t++) {
      const visible = [...Array(T).keys()].filter((s) => s <= t && keyMask[s] === 1);
      if (visible.length === 0) continue; // a query with no visible key: output unspecified
      const scores = visible.map((s) => (at(q, head, t, 0) * at(k, kvHead, s, 0) + at(q, head, t, 1) * at(k, kvHead, s, 1)) / Math.sqrt(h));
      const m = Math.max(...scores);
      const w = scores.map((s) => Math.exp(s - m));
      const z = w.reduce((a, b) => a + b);
      for (let c = 0; c < h; c++) want[(t * H + head) * h + c] = visible.reduce((acc, s, i) => acc + (w[i] / z) * at(v, kvHead, s, c), 0);
    }
  }
  const out = attention(
    tf.tensor4d(q, [B, H, T, h]), tf.tensor4d(k, [B, Hkv, T, h]), tf.tensor4d(v, [B, Hkv, T, h]),
    attentionBias(tf.tensor2d([keyMask], undefined, 'int32'), T, 0),
  );
  expect(out.shape).toEqual([T, H * h]);
  close(Array.from(out.dataSync()).slice(H * h), want.slice(H * h)); // rows t = 1, 2
});

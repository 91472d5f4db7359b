import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmKernel, wasmOps } from './wasm-ops';

/** Name of the one-kernel attention of one new token per row over a KV cache (forward only: for decoding). */
export const DECODE_ATTENTION = 'DecodeAttention';

/** Attributes of {@link DECODE_ATTENTION}: query heads and key/value heads (grouped-query when fewer). */
export interface DecodeAttentionAttrs { heads: number; kvHeads: number }

/**
 * `DecodeAttention` on wasm: one decoding step of scaled dot-product attention for every row and head, with the
 * step's keys and values appended to the cache, in one kernel call.
 *
 * Inputs: the step's q [B, H*h], k and v [B, Hkv*h] (one token per row), keyMask [B, S] (nonzero for a real key;
 * its last column is this step's token), and, after the first step, the cached pastK, pastV [B, Hkv, S-1, h].
 * Outputs: [out [B, H*h], keys [B, Hkv, S, h], values [B, Hkv, S, h]] where keys/values are past + this step's.
 * For query head j (kv head j / (H / Hkv), as in the model's attention): scores_s = q.k_s / sqrt(h), masked keys get
 * -1e9 added as float32 (as the additive bias does: a row with no real key gets near-uniform weights, not NaN),
 * p = softmax(scores), out = sum_s p_s v_s: the same as the composite ops up to float32 rounding. The two
 * products run the registered BatchMatMul kernel directly (for one-row products, wasm's own loop); scale, mask
 * and softmax are one pass in JS.
 * It replaces about twelve kernel calls per layer (two cache concatenations, the scale, two products, reshapes,
 * the bias add and the softmax), each costing more in dispatch than in arithmetic at one token per row:
 * S decoding (batch 8) +5% tokens per CPU-second in an in-process A/B.
 */
export function decodeAttentionConfig(): tf.KernelConfig {
  return {
    kernelName: DECODE_ATTENTION,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { q, k, v, keyMask, pastK, pastV } = inputs as Record<'q' | 'k' | 'v' | 'keyMask', tf.TensorInfo> & Partial<Record<'pastK' | 'pastV', tf.TensorInfo>>;
      const { heads, kvHeads } = attrs as unknown as DecodeAttentionAttrs;
      const ops = wasmOps(backend);
      const [batch, width] = q.shape;
      const h = width / heads;
      const keyLength = keyMask.shape[1];
      const past = keyLength - 1;
      const expect = (name: string, t: tf.TensorInfo | undefined, shape: number[]) => {
        if (t !== undefined && t.shape.join(',') !== shape.join(',')) {
          throw new Error(`DecodeAttention: input "${name}" has shape [${t.shape}] but needs [${shape}]`);
        }
      };
      expect('k', k, [batch, kvHeads * h]);
      expect('v', v, [batch, kvHeads * h]);
      expect('keyMask', keyMask, [batch, keyLength]);
      expect('pastK', pastK, [batch, kvHeads, past, h]);
      expect('pastV', pastV, [batch, kvHeads, past, h]);
      if (past > 0 && (pastK === undefined || pastV === undefined)) {
        throw new Error(`DecodeAttention: keyMask has ${keyLength} columns but no cached keys/values were given`);
      }
      const grown = [0, 1].map(() => backend.makeOutput([batch, kvHeads, keyLength, h], 'float32'));
      // Views after every makeOutput: an allocation may grow the heap and detach older views.
      const [keys, values] = grown.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
      const view = (t: tf.TensorInfo | undefined) => (t ? (backend.typedArrayFromHeap(t) as Float32Array) : undefined);
      const [newK, newV, oldK, oldV] = [k, v, pastK, pastV].map(view);
      // The cache grows by one position: each (row, kv head) block is its past rows, then this step's row.
      const block = keyLength * h;
      for (let bg = 0; bg < batch * kvHeads; bg++) {
        if (past > 0) {
          keys.set(oldK!.subarray(bg * past * h, (bg + 1) * past * h), bg * block);
          values.set(oldV!.subarray(bg * past * h, (bg + 1) * past * h), bg * block);
        }
        keys.set(newK!.subarray(bg * h, (bg + 1) * h), bg * block + past * h);
        values.set(newV!.subarray(bg * h, (bg + 1) * h), bg * block + past * h);
      }
      // scores [B*Hkv, g, S] = q k^T per (row, kv head), the g = H / Hkv query heads of a group as rows; then
      // in place: scale, mask, softmax; then out [B*Hkv, g, h] = p v.
      const group = heads / kvHeads;
      const matMul = wasmKernel('BatchMatMul').kernelFunc;
      const product = (a: tf.TensorInfo, b: tf.TensorInfo, transposeB: boolean) =>
        matMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB } }) as tf.TensorInfo;
      const temps = [
        ops.reshape(q, [batch * kvHeads, group, h]),
        ops.reshape(grown[0], [batch * kvHeads, keyLength, h]),
        ops.reshape(grown[1], [batch * kvHeads, keyLength, h]),
      ];
      const made = (t: tf.TensorInfo) => { temps.push(t); return t; };
      try {
        const scores = made(product(temps[0], temps[1], true));
        softmaxRows(backend.typedArrayFromHeap(scores) as Float32Array, backend.typedArrayFromHeap(keyMask), batch, heads * keyLength, keyLength, 1 / Math.sqrt(h));
        const attended = made(product(scores, temps[2], false));
        return [ops.reshape(attended, [batch, heads * h]), ...grown];
      } catch (err) {
        for (const t of grown) ops.release(t);
        throw err;
      } finally {
        for (const t of temps) ops.release(t);
      }
    },
  };
}

/**
 * Each row of `scores` (rows of `length` values; `valuesPerBatch` values per batch row b, whose key mask is
 * mask[b]) becomes softmax(scale * score + bias) in place, bias -1e9 (added in float32) where the mask is 0.
 */
function softmaxRows(scores: Float32Array, mask: ArrayLike<number>, batch: number, valuesPerBatch: number, length: number, scale: number): void {
  for (let b = 0; b < batch; b++) {
    for (let start = b * valuesPerBatch; start < (b + 1) * valuesPerBatch; start += length) {
      let max = -Infinity;
      for (let s = 0; s < length; s++) {
        const scaled = Math.fround(scores[start + s] * scale);
        const score = mask[b * length + s] !== 0 ? scaled : Math.fround(scaled - 1e9);
        scores[start + s] = score;
        if (score > max) max = score;
      }
      let total = 0;
      for (let s = 0; s < length; s++) {
        const e = Math.exp(scores[start + s] - max);
        scores[start + s] = e;
        total += e;
      }
      for (let s = 0; s < length; s++) scores[start + s] /= total;
    }
  }
}

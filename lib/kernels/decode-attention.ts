import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmKernel, wasmOps } from './wasm-ops';

/** Name of the one-kernel attention of one new token per row over a KV cache (forward only: for decoding). */
export const DECODE_ATTENTION = 'DecodeAttention';

/**
 * Attributes of {@link DECODE_ATTENTION}: query heads and key/value heads (grouped-query when fewer), and `slots`,
 * the positions to allocate when the cached keys/values have no free slot for this step (default: just enough).
 */
export interface DecodeAttentionAttrs { heads: number; kvHeads: number; slots?: number }

/**
 * `DecodeAttention` on wasm: one decoding step of scaled dot-product attention for every row and head, with the
 * step's keys and values appended to the cache, in one kernel call.
 *
 * Inputs: the step's q [B, H*h], k and v [B, Hkv*h] (one token per row), keyMask [B, S] (nonzero for a real key;
 * its last column is this step's token), and, after the first step, the cached pastK, pastV [B, Hkv, P, h] whose
 * first S-1 positions are filled (P >= S-1 slots). Outputs: [out [B, H*h], keys, values [B, Hkv, P', h]] holding
 * past + this step's in their first S positions. With a free slot (P >= S) the step's key and value are written
 * into pastK and pastV in place and keys/values are those same buffers (P' = P): growing the cache costs one row
 * per step, not a copy of the whole cache. Otherwise new buffers of P' = max(S, `slots`) positions are made, the
 * past copied in and the free slots zeroed (so that their zero weights times them add exact zeros). Slots past S
 * take no part: their weights are exactly 0 and are not summed, so out is bit-identical to attending over S keys.
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
      const { heads, kvHeads, slots } = attrs as unknown as DecodeAttentionAttrs;
      const ops = wasmOps(backend);
      const [batch, width] = q.shape;
      const h = width / heads;
      const keyLength = keyMask.shape[1];
      const past = keyLength - 1;
      const pastSlots = pastK?.shape[2] ?? 0;
      const expect = (name: string, t: tf.TensorInfo | undefined, shape: number[]) => {
        if (t !== undefined && t.shape.join(',') !== shape.join(',')) {
          throw new Error(`DecodeAttention: input "${name}" has shape [${t.shape}] but needs [${shape}]`);
        }
      };
      expect('k', k, [batch, kvHeads * h]);
      expect('v', v, [batch, kvHeads * h]);
      expect('keyMask', keyMask, [batch, keyLength]);
      if (past > 0 && (pastK === undefined || pastV === undefined)) {
        throw new Error(`DecodeAttention: keyMask has ${keyLength} columns but no cached keys/values were given`);
      }
      if (pastK !== undefined && pastSlots < past) {
        throw new Error(`DecodeAttention: input "pastK" has ${pastSlots} positions but keyMask needs ${past} cached ones`);
      }
      expect('pastK', pastK, [batch, kvHeads, pastSlots, h]);
      expect('pastV', pastV, [batch, kvHeads, pastSlots, h]);
      const inPlace = pastK !== undefined && pastV !== undefined && pastSlots >= keyLength;
      const slotCount = inPlace ? pastSlots : Math.max(keyLength, slots ?? keyLength);
      const grown = inPlace ? [ops.reshape(pastK, pastK.shape), ops.reshape(pastV!, pastV!.shape)] : [0, 1].map(() => ops.empty([batch, kvHeads, slotCount, h]));
      // Views after every makeOutput: an allocation may grow the heap and detach older views.
      const [keys, values] = grown.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
      const view = (t: tf.TensorInfo | undefined) => (t ? (backend.typedArrayFromHeap(t) as Float32Array) : undefined);
      const [newK, newV, oldK, oldV] = [k, v, pastK, pastV].map(view);
      // Each (row, kv head) block holds its past positions, then this step's, then free slots.
      const block = slotCount * h;
      for (let bg = 0; bg < batch * kvHeads; bg++) {
        if (!inPlace) {
          if (past > 0) {
            keys.set(oldK!.subarray(bg * pastSlots * h, (bg * pastSlots + past) * h), bg * block);
            values.set(oldV!.subarray(bg * pastSlots * h, (bg * pastSlots + past) * h), bg * block);
          }
          keys.fill(0, bg * block + keyLength * h, (bg + 1) * block);
          values.fill(0, bg * block + keyLength * h, (bg + 1) * block);
        }
        keys.set(newK!.subarray(bg * h, (bg + 1) * h), bg * block + past * h);
        values.set(newV!.subarray(bg * h, (bg + 1) * h), bg * block + past * h);
      }
      // scores [B*Hkv, g, P'] = q k^T per (row, kv head), the g = H / Hkv query heads of a group as rows; then
      // in place: scale, mask, softmax over the first S (free slots weigh 0); then out [B*Hkv, g, h] = p v.
      const group = heads / kvHeads;
      const matMul = wasmKernel('BatchMatMul').kernelFunc;
      const product = (a: tf.TensorInfo, b: tf.TensorInfo, transposeB: boolean) =>
        matMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB } }) as tf.TensorInfo;
      const temps = [
        ops.reshape(q, [batch * kvHeads, group, h]),
        ops.reshape(grown[0], [batch * kvHeads, slotCount, h]),
        ops.reshape(grown[1], [batch * kvHeads, slotCount, h]),
      ];
      const made = (t: tf.TensorInfo) => { temps.push(t); return t; };
      try {
        const scores = made(product(temps[0], temps[1], true));
        softmaxRows(backend.typedArrayFromHeap(scores) as Float32Array, backend.typedArrayFromHeap(keyMask), batch, heads, slotCount, keyLength, 1 / Math.sqrt(h));
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
 * Each score row ([B, rowsPerBatch, slots]; batch row b's key mask is mask[b], [B, length]) becomes
 * softmax(scale * score + bias) over its first `length` values in place, bias -1e9 (added in float32) where the
 * mask is 0; the free slots past `length` get weight exactly 0.
 */
function softmaxRows(scores: Float32Array, mask: ArrayLike<number>, batch: number, rowsPerBatch: number, slots: number, length: number, scale: number): void {
  for (let b = 0; b < batch; b++) {
    for (let start = b * rowsPerBatch * slots; start < (b + 1) * rowsPerBatch * slots; start += slots) {
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
      scores.fill(0, start + length, start + slots);
    }
  }
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { sequentialGemm, type SequentialGemm } from './sequential-gemm';
import { heapAddress } from './wasm-encoder';
import { wasmOps } from './wasm-ops';

/** Name of the one-kernel attention of one new token per row over a KV cache (forward only: for decoding). */
export const DECODE_ATTENTION = 'DecodeAttention';

/**
 * Attributes of {@link DECODE_ATTENTION}: query heads and key/value heads (grouped-query when fewer); `slots`, the
 * positions to allocate when the cached keys/values have no free slot for this step (default: just enough); and
 * `keysTransposed`, whether the cached pastK is stored [B, Hkv, h, P] (as this kernel writes it) rather than
 * [B, Hkv, P, h] (as a prompt's ops leave it).
 */
export interface DecodeAttentionAttrs { heads: number; kvHeads: number; slots?: number; keysTransposed?: boolean }

/** tfjs-backend-wasm's own product loop sums over the inner axis in blocks of this many (its kBlockSize). */
const SHIPPED_BLOCK = 48;

/**
 * `DecodeAttention` on wasm: one decoding step of scaled dot-product attention for every row and head, with the
 * step's keys and values appended to the cache, in one kernel call.
 *
 * Inputs: the step's q [B, H*h], k and v [B, Hkv*h] (one token per row), keyMask [B, S] (nonzero for a real key;
 * its last column is this step's token), and, after the first step, the cached pastK and pastV [B, Hkv, P, h] (pastK
 * [B, Hkv, h, P] with `keysTransposed`) whose first S-1 positions are filled (P >= S-1 slots).
 * Outputs: [out [B, H*h], keys [B, Hkv, h, P'] (transposed: position is the last axis), values [B, Hkv, P', h]],
 * past + this step's in their first S positions. With a free slot (P >= S, transposed keys) the step's key and
 * value are written into pastK and pastV in place and the outputs are those same buffers (P' = P): a step costs one
 * position, not a copy of the whole cache. Otherwise new buffers of P' = max(S, `slots`) positions are made and the
 * past copied in (transposing rows-layout keys once).
 * For query head j (kv head j / (H / Hkv), as in the model's attention): scores_s = q.k_s / sqrt(h), masked keys get
 * -1e9 added as float32 (as the additive bias does: a row with no real key gets near-uniform weights, not NaN),
 * p = softmax(scores) over the S filled positions, out = sum_s p_s v_s: the same as the composite ops up to float32
 * rounding. Keys stored transposed make both products vector loops over contiguous memory (q K^T along positions,
 * p V along the head's width), run by {@link sequentialGemm} in blocks of 48 along the summed axis, each block's sum
 * added to the output in order: the rounding of the shipped loop that ran them before, so the results are
 * bit-identical to it. Scale, mask and softmax are one pass in JS.
 * It replaces about twelve kernel calls per layer (two cache concatenations, the scale, two products, reshapes,
 * the bias add and the softmax), each costing more in dispatch than in arithmetic at one token per row.
 */
export function decodeAttentionConfig(): tf.KernelConfig {
  return {
    kernelName: DECODE_ATTENTION,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { q, k, v, keyMask, pastK, pastV } = inputs as Record<'q' | 'k' | 'v' | 'keyMask', tf.TensorInfo> & Partial<Record<'pastK' | 'pastV', tf.TensorInfo>>;
      const { heads, kvHeads, slots, keysTransposed = false } = attrs as unknown as DecodeAttentionAttrs;
      const ops = wasmOps(backend);
      const [batch, width] = q.shape;
      const h = width / heads;
      const keyLength = keyMask.shape[1];
      const past = keyLength - 1;
      const pastSlots = pastV?.shape[2] ?? 0;
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
      if (pastV !== undefined && pastSlots < past) {
        throw new Error(`DecodeAttention: input "pastV" has ${pastSlots} positions but keyMask needs ${past} cached ones`);
      }
      expect('pastV', pastV, [batch, kvHeads, pastSlots, h]);
      expect('pastK', pastK, keysTransposed ? [batch, kvHeads, h, pastSlots] : [batch, kvHeads, pastSlots, h]);
      const inPlace = pastK !== undefined && pastV !== undefined && keysTransposed && pastSlots >= keyLength;
      const slotCount = inPlace ? pastSlots : Math.max(keyLength, slots ?? keyLength);
      const grown = inPlace
        ? [ops.reshape(pastK, pastK.shape), ops.reshape(pastV!, pastV!.shape)]
        : [ops.empty([batch, kvHeads, h, slotCount]), ops.empty([batch, kvHeads, slotCount, h])];
      // Views after every makeOutput: an allocation may grow the heap and detach older views.
      const [keys, values] = grown.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
      const view = (t: tf.TensorInfo | undefined) => (t ? (backend.typedArrayFromHeap(t) as Float32Array) : undefined);
      const [newK, newV, oldK, oldV] = [k, v, pastK, pastV].map(view);
      // Each (row, kv head) block: keys [h, P'] (position along a row), values [P', h] (position along the column).
      const block = slotCount * h;
      for (let bg = 0; bg < batch * kvHeads; bg++) {
        const at = bg * block;
        if (!inPlace && past > 0) {
          const oldAt = bg * pastSlots * h;
          values.set(oldV!.subarray(oldAt, oldAt + past * h), at);
          for (let t = 0; t < h; t++) {
            for (let s = 0; s < past; s++) keys[at + t * slotCount + s] = keysTransposed ? oldK![oldAt + t * pastSlots + s] : oldK![oldAt + s * h + t];
          }
        }
        for (let t = 0; t < h; t++) keys[at + t * slotCount + past] = newK![bg * h + t];
        values.set(newV!.subarray(bg * h, (bg + 1) * h), at + past * h);
      }
      const group = heads / kvHeads;
      const temps = [ops.empty([batch * kvHeads, group, keyLength]), ops.empty([group, Math.max(keyLength, h)])];
      const [scores, partial] = temps;
      const out = ops.empty([batch, heads * h]);
      try {
        const at = (t: tf.TensorInfo) => heapAddress(backend, t) / 4; // float32 index
        const [qBase, keysBase, valuesBase, scoresBase, partialBase, outBase] = [q, grown[0], grown[1], scores, partial, out].map(at);
        const gemm = sequentialGemm(backend);
        const heap = new Float32Array(backend.typedArrayFromHeap(out).buffer);
        for (let bg = 0; bg < batch * kvHeads; bg++) {
          // scores [g, S] = q [g, h] K^T [h, S] of this (row, kv head): the g = H / Hkv query heads of a group as rows
          const rows = bg * group;
          blockedProduct(gemm, heap, group, keyLength, h, qBase + rows * h, h, keysBase + bg * block, slotCount, scoresBase + rows * keyLength, keyLength, partialBase);
        }
        softmaxRows(backend.typedArrayFromHeap(scores) as Float32Array, backend.typedArrayFromHeap(keyMask), batch, heads, keyLength, 1 / Math.sqrt(h));
        for (let bg = 0; bg < batch * kvHeads; bg++) {
          // out [g, h] = p [g, S] V [S, h]
          const rows = bg * group;
          blockedProduct(gemm, heap, group, h, keyLength, scoresBase + rows * keyLength, keyLength, valuesBase + bg * block, h, outBase + rows * h, h, partialBase);
        }
        return [out, ...grown];
      } catch (err) {
        for (const t of [out, ...grown]) ops.release(t);
        throw err;
      } finally {
        for (const t of temps) ops.release(t);
      }
    },
  };
}

/**
 * C [m, n] = A [m, k] B [k, n] (row-major, row strides aRow, bRow, cRow; float indices into the heap) with the
 * shipped loop's rounding: the sum over t in blocks of {@link SHIPPED_BLOCK}, each block summed from +0 in order of
 * t, then added to C in order of blocks (C starts at the first block's sum). `scratch` holds a block's sums
 * ([m, n], row stride n); `heap` is the heap as float32.
 */
function blockedProduct(gemm: SequentialGemm, heap: Float32Array, m: number, n: number, k: number, a: number, aRow: number, b: number, bRow: number, c: number, cRow: number, scratch: number): void {
  gemm.run(m, n, Math.min(k, SHIPPED_BLOCK), a, aRow, 1, b, bRow, c, cRow, false);
  if (k <= SHIPPED_BLOCK) return;
  for (let t0 = SHIPPED_BLOCK; t0 < k; t0 += SHIPPED_BLOCK) {
    gemm.run(m, n, Math.min(k - t0, SHIPPED_BLOCK), a + t0, aRow, 1, b + t0 * bRow, bRow, scratch, n, false);
    // float32 + float32 in double, then rounded to float32: the float32 sum (double has more than 2 x 24 + 2 bits)
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) heap[c + i * cRow + j] += heap[scratch + i * n + j];
  }
}

/**
 * Each row of `scores` ([B, rowsPerBatch, length]; batch row b's key mask is mask[b], [B, length]) becomes
 * softmax(scale * score + bias) in place, bias -1e9 (added in float32) where the mask is 0.
 */
function softmaxRows(scores: Float32Array, mask: ArrayLike<number>, batch: number, rowsPerBatch: number, length: number, scale: number): void {
  for (let b = 0; b < batch; b++) {
    for (let start = b * rowsPerBatch * length; start < (b + 1) * rowsPerBatch * length; start += length) {
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

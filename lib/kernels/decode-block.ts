import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { DECODE_ATTENTION, type DecodeAttentionAttrs } from './decode-attention';
import { GELU_A, GELU_C } from './gelu-grad';
import { ROW_NORM } from './row-norm';
import { wasmKernel } from './wasm-ops';

/** Name of one transformer block for one new token per row over a KV cache (forward only: for decoding). */
export const DECODE_BLOCK = 'DecodeBlock';

/** Attributes of {@link DECODE_BLOCK}: query and key/value heads, the norms' epsilon, and the cache's `slots` and `keysTransposed` (see {@link DecodeAttentionAttrs}). */
export interface DecodeBlockAttrs { heads: number; kvHeads: number; eps: number; slots?: number; keysTransposed?: boolean }

/**
 * `DecodeBlock` on wasm: a pre-norm block for one decoding step, x + attn(norm1(x)) then + mlp(norm2(...)), by
 * calling the registered wasm kernels that the model's ops would run, in the same order on the same values: so its
 * outputs are bit-identical to the op-by-op block, while tfjs's engine (scopes, bookkeeping, tensor objects) runs
 * once per block instead of twenty to thirty times. The layout follows from the inputs given:
 * - norms: LayerNorm with `ln1b`/`ln2b`, else RMSNorm (`RowNorm`);
 * - each projection: `_FusedMatMul` (batch-1 3-D views, as `tf.fused.matMul`) when its bias is given, else a 2-D
 *   `BatchMatMul`; q, k and v from one product with wqkv [C, (H + 2 Hkv) h] (and bqkv), then `SplitV`;
 * - rotary q and k with `cos`, `sin` [B, h] (this step's rows) and `rotateHalf` [h, h], as `applyRotary`;
 * - `DecodeAttention` (the cache grown by this step's keys and values);
 * - MLP: GELU with `wIn` (`Square`, `Multiply`, `Add`, `Sigmoid`, `Multiply`: x sigmoid(2u) as `geluTanh`), else
 *   SwiGLU with `wGate`, `wUp` (`Sigmoid`, `Multiply`, `Multiply`); then `wOut`.
 * Inputs: x [B, C], those weights, keyMask [B, S], and after the first step the cached pastK, pastV as
 * `DecodeAttention` takes them. Outputs: [x' [B, C], keys [B, Hkv, h, P'], values [B, Hkv, P', h]], the cache
 * grown by this step as `DecodeAttention` grows it (in place when it has a free slot).
 */
export function decodeBlockConfig(): tf.KernelConfig {
  return {
    kernelName: DECODE_BLOCK,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { x, keyMask, pastK, pastV, ...w } = inputs as Record<string, tf.TensorInfo | undefined> & { x: tf.TensorInfo; keyMask: tf.TensorInfo };
      const { heads, kvHeads, eps, slots, keysTransposed } = attrs as unknown as DecodeBlockAttrs;
      const temps: tf.TensorInfo[] = [];
      const run = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: tf.NamedAttrMap = {}) =>
        wasmKernel(name).kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as tf.TensorInfo | tf.TensorInfo[];
      const made = (t: tf.TensorInfo) => { temps.push(t); return t; };
      const op = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs?: tf.NamedAttrMap) => made(run(name, kernelInputs, kernelAttrs) as tf.TensorInfo);
      const view = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ ...t, shape });
      const scalar = (value: number) => {
        const t = made(backend.makeOutput([], 'float32'));
        (backend.typedArrayFromHeap(t) as Float32Array)[0] = value;
        return t;
      };
      const need = (name: string) => {
        const t = w[name];
        if (!t) throw new Error(`DecodeBlock: input "${name}" is missing`);
        return t;
      };
      // linear(): with a bias, tf.fused.matMul's product of batch-1 3-D views (the same tensors: XNNPACK's operator
      // for a weight is cached by its id), read back as 2-D; without, a 2-D BatchMatMul.
      const dense = (a: tf.TensorInfo, weight: tf.TensorInfo, bias: tf.TensorInfo | undefined) => {
        if (!bias) return op('BatchMatMul', { a, b: weight }, { transposeA: false, transposeB: false });
        const product = op('_FusedMatMul', { a: view(a, [1, ...a.shape]), b: view(weight, [1, ...weight.shape]), bias }, { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0.2 });
        return view(product, product.shape.slice(1));
      };
      const norm = (input: tf.TensorInfo, gain: tf.TensorInfo, shift: tf.TensorInfo | undefined) =>
        op(ROW_NORM, shift ? { x: input, gain, bias: shift } : { x: input, gain }, { eps, center: shift !== undefined });
      const [batch, width] = x.shape;
      const h = width / heads;
      // applyRotary: t * cos + rotate_half(t) * sin per head, with rotate_half(t) = t @ R
      const rotate = (t: tf.TensorInfo, count: number) => {
        const rotated = op('BatchMatMul', { a: view(t, [batch * count, h]), b: need('rotateHalf') }, { transposeA: false, transposeB: false });
        const cos = op('Multiply', { a: view(t, [batch, count, h]), b: view(need('cos'), [batch, 1, h]) });
        const sin = op('Multiply', { a: view(rotated, [batch, count, h]), b: view(need('sin'), [batch, 1, h]) });
        return view(op('Add', { a: cos, b: sin }), [batch, count * h]);
      };
      try {
        const qkv = dense(norm(x, need('ln1g'), w.ln1b), need('wqkv'), w.bqkv); // [B, (H + 2 Hkv) h]
        let [q, k, v] = (run('SplitV', { x: qkv }, { numOrSizeSplits: [heads * h, kvHeads * h, kvHeads * h], axis: 1 }) as tf.TensorInfo[]).map(made);
        if (w.cos) [q, k] = [rotate(q, heads), rotate(k, kvHeads)];
        const past = pastK && pastV ? { pastK, pastV } : {};
        const [attended, keys, values] = run(DECODE_ATTENTION, { q, k, v, keyMask, ...past }, { heads, kvHeads, ...(slots === undefined ? {} : { slots }), keysTransposed: keysTransposed ?? false }) as tf.TensorInfo[];
        made(attended);
        try {
          const mid = op('Add', { a: x, b: dense(attended, need('wo'), w.bo) }); // [B, C]
          const normed = norm(mid, need('ln2g'), w.ln2b);
          let inner: tf.TensorInfo; // [B, F]
          if (w.wIn) {
            // GELU as geluTanh computes it: s = sigmoid(x (2c + 2ac x^2)), gelu = x s
            const pre = dense(normed, w.wIn, w.bIn);
            const slope = op('Add', { a: scalar(2 * GELU_C), b: op('Multiply', { a: scalar(2 * GELU_A * GELU_C), b: op('Square', { x: pre }) }) });
            inner = op('Multiply', { a: pre, b: op('Sigmoid', { x: op('Multiply', { a: pre, b: slope }) }) });
          } else {
            // SwiGLU as swiGlu computes it: (gate sigmoid(gate)) up
            const gate = dense(normed, need('wGate'), undefined);
            const up = dense(normed, need('wUp'), undefined);
            inner = op('Multiply', { a: op('Multiply', { a: gate, b: op('Sigmoid', { x: gate }) }), b: up });
          }
          const out = run('Add', { a: mid, b: dense(inner, need('wOut'), w.bOut) }) as tf.TensorInfo;
          return [out, keys, values];
        } catch (err) {
          for (const t of [keys, values]) backend.disposeData(t.dataId);
          throw err;
        }
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    },
  };
}

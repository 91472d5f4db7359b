import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { DECODE_ATTENTION } from './decode-attention';
import { GELU_A, GELU_C } from './gelu-grad';
import { ROW_NORM } from './row-norm';
import { wasmKernel } from './wasm-ops';

/** Name of one GPT-2-layout transformer block for one new token per row over a KV cache (forward only: decoding). */
export const DECODE_BLOCK = 'DecodeBlock';

/** Attributes of {@link DECODE_BLOCK}: query and key/value heads, and the LayerNorms' epsilon. */
export interface DecodeBlockAttrs { heads: number; kvHeads: number; eps: number }

/** The inputs of {@link DECODE_BLOCK} that are weights of the block, in the order a block uses them. */
export const DECODE_BLOCK_WEIGHTS = ['ln1g', 'ln1b', 'wqkv', 'bqkv', 'wo', 'bo', 'ln2g', 'ln2b', 'wIn', 'bIn', 'wOut', 'bOut'] as const;

/**
 * `DecodeBlock` on wasm: a pre-norm GPT-2 block for one decoding step, x + attn(ln1(x)) then + mlp(ln2(...)),
 * by calling the registered wasm kernels that the model's ops would run, in the same order on the same values:
 * `RowNorm`, `_FusedMatMul` (XNNPACK, bias in its output loop), `SplitV`, `DecodeAttention`, `Add`, and GELU's
 * `Square`, `Multiply`, `Add`, `Sigmoid`, `Multiply` (x sigmoid(2u), see `geluTanh`). So its outputs are
 * bit-identical to the op-by-op block, while tfjs's engine (scopes, bookkeeping, tensor objects) runs once per block
 * instead of about twenty times.
 *
 * Inputs: x [B, C] (one token per row), the weights of {@link DECODE_BLOCK_WEIGHTS} (wqkv [C, (H + 2 Hkv) h]
 * with bqkv, wo [C, C], wIn [C, F], wOut [F, C], each bias 1-D), keyMask [B, S], and after the first step the
 * cached pastK, pastV [B, Hkv, S-1, h]. Outputs: [x' [B, C], keys, values [B, Hkv, S, h]] (the cache grown by
 * this step, as `DecodeAttention` returns it).
 */
export function decodeBlockConfig(): tf.KernelConfig {
  return {
    kernelName: DECODE_BLOCK,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { x, keyMask, pastK, pastV, ...weights } = inputs as Record<string, tf.TensorInfo>;
      const { heads, kvHeads, eps } = attrs as unknown as DecodeBlockAttrs;
      const temps: tf.TensorInfo[] = [];
      const run = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: tf.NamedAttrMap = {}) =>
        wasmKernel(name).kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as tf.TensorInfo | tf.TensorInfo[];
      const made = (t: tf.TensorInfo) => { temps.push(t); return t; };
      const op = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs?: tf.NamedAttrMap) => made(run(name, kernelInputs, kernelAttrs) as tf.TensorInfo);
      const scalar = (value: number) => {
        const t = made(backend.makeOutput([], 'float32'));
        (backend.typedArrayFromHeap(t) as Float32Array)[0] = value;
        return t;
      };
      // tf.fused.matMul's product: 2-D operands as batch-1 3-D views (the same tensors: XNNPACK's operator for a
      // weight is cached by its id), the [1, rows, out] result read back as [rows, out].
      const dense = (a: tf.TensorInfo, w: tf.TensorInfo, bias: tf.TensorInfo) => {
        const product = op('_FusedMatMul', { a: { ...a, shape: [1, ...a.shape] }, b: { ...w, shape: [1, ...w.shape] }, bias }, { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0.2 });
        return { ...product, shape: product.shape.slice(1) };
      };
      const norm = (input: tf.TensorInfo, gain: tf.TensorInfo, shift: tf.TensorInfo) => op(ROW_NORM, { x: input, gain, bias: shift }, { eps, center: true });
      try {
        const [batch, width] = x.shape;
        const h = width / heads;
        const qkv = dense(norm(x, weights.ln1g, weights.ln1b), weights.wqkv, weights.bqkv); // [B, (H + 2 Hkv) h]
        const [q, k, v] = (run('SplitV', { x: qkv }, { numOrSizeSplits: [heads * h, kvHeads * h, kvHeads * h], axis: 1 }) as tf.TensorInfo[]).map(made);
        const past = pastK && pastV ? { pastK, pastV } : {};
        const [attended, keys, values] = run(DECODE_ATTENTION, { q, k, v, keyMask, ...past }, { heads, kvHeads }) as tf.TensorInfo[];
        made(attended);
        try {
          const mid = op('Add', { a: x, b: dense(attended, weights.wo, weights.bo) }); // [B, C]
          const inner = dense(norm(mid, weights.ln2g, weights.ln2b), weights.wIn, weights.bIn); // [B, F]
          // GELU as geluTanh computes it: s = sigmoid(x (2c + 2ac x^2)), gelu = x s
          const slope = op('Add', { a: scalar(2 * GELU_C), b: op('Multiply', { a: scalar(2 * GELU_A * GELU_C), b: op('Square', { x: inner }) }) });
          const s = op('Sigmoid', { x: op('Multiply', { a: inner, b: slope }) });
          const gelu = op('Multiply', { a: inner, b: s });
          const out = run('Add', { a: mid, b: dense(gelu, weights.wOut, weights.bOut) }) as tf.TensorInfo;
          if (out.shape[0] !== batch) throw new Error(`DecodeBlock: output has shape [${out.shape}] for ${batch} rows`);
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

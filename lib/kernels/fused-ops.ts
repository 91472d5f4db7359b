import * as tf from '@tensorflow/tfjs';
import { ADAMW_STEP, type AdamWStepAttrs } from './adamw-step';
import { MASKED_BATCH_MATMUL, type CausalMaskAttrs } from './causal-products';
import { DECODE_ATTENTION, type DecodeAttentionAttrs } from './decode-attention';
import { DECODE_BLOCK, type DecodeBlockAttrs } from './decode-block';
import { GELU_ARGUMENT, GELU_TANH_GRAD } from './gelu-grad';
import { ROW_NORM, ROW_NORM_FORWARD, ROW_NORM_GRAD, type RowNormAttrs, type RowNormGradAttrs } from './row-norm';
import { SOFTMAX_GRAD } from './softmax-grad';
import { SQUARED_NORM } from './squared-norm';

/**
 * One-kernel forms of computations otherwise composed from several ops, for where no gradient flows through
 * them (decoding, the optimizer step, a gradient function, a custom gradient's forward pass): no gradient is
 * registered for them. Each returns undefined when the active backend has no such kernel, so the caller falls back
 * to the composite ops. (A one-kernel GELU forward with its exp was tried and dropped: its JS loop cost as much as
 * the six wasm ops it replaced; XNNPACK's sigmoid stays, the argument before it is one kernel.)
 */
function runIfRegistered(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor | tf.Tensor[] | undefined {
  if (tf.getKernel(name, tf.getBackend()) === undefined) return undefined;
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
}

/** Runs the norm kernel `name` (LayerNorm with a bias, RMSNorm without) on x [N, d]. */
function runNorm(name: string, x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number): tf.Tensor | tf.Tensor[] | undefined {
  const attrs: RowNormAttrs = { eps, center: bias !== undefined };
  return runIfRegistered(name, bias ? { x, gain, bias } : { x, gain }, attrs as unknown as tf.NamedAttrMap);
}

/** LayerNorm (`bias` given) or RMSNorm (no bias) of each row of x [N, d]; see {@link ROW_NORM}. */
export function rowNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number): tf.Tensor2D | undefined {
  return runNorm(ROW_NORM, x, gain, bias, eps) as tf.Tensor2D | undefined;
}

/**
 * [y, xhat, rstd [N, 1]] of a LayerNorm (`bias` given) or RMSNorm of each row of x [N, d], with the rounding of the
 * composite ops (training's forward pass, whose gradient is {@link rowNormGrad}); see {@link ROW_NORM_FORWARD}.
 */
export function rowNormForward(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number): tf.Tensor2D[] | undefined {
  return runNorm(ROW_NORM_FORWARD, x, gain, bias, eps) as tf.Tensor2D[] | undefined;
}

/**
 * Gradients [dx, dgain, dbias] of a LayerNorm (`center`) or RMSNorm y = xhat * gain (+ bias) from dy, the
 * normalised rows xhat and their 1/sigma rstd [N, 1]; see {@link ROW_NORM_GRAD}.
 */
export function rowNormGrad(dy: tf.Tensor2D, xhat: tf.Tensor2D, rstd: tf.Tensor2D, gain: tf.Tensor1D, center: boolean): tf.Tensor[] | undefined {
  const attrs: RowNormGradAttrs = { center };
  return runIfRegistered(ROW_NORM_GRAD, { dy, xhat, rstd, gain }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[] | undefined;
}

/** 2u = x (2c + 2ac x^2), the argument of the tanh-GELU's sigmoid, as one kernel; see {@link GELU_ARGUMENT}. */
export function geluArgument(x: tf.Tensor): tf.Tensor | undefined {
  return runIfRegistered(GELU_ARGUMENT, { x }, {}) as tf.Tensor | undefined;
}

/** dx = dy * gelu'(x) of the tanh-GELU y = x s, from x, s = sigmoid(2u) and dy; see {@link GELU_TANH_GRAD}. */
export function geluTanhGrad(x: tf.Tensor, s: tf.Tensor, dy: tf.Tensor): tf.Tensor | undefined {
  return runIfRegistered(GELU_TANH_GRAD, { x, s, dy }, {}) as tf.Tensor | undefined;
}

/**
 * One AdamW update of a parameter: [p', m', v'] from p, its moments m, v and gradient g (times `attrs.gradScale`, a
 * float32 product as tf.mul); see {@link ADAMW_STEP}.
 */
export function adamwStep(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, attrs: AdamWStepAttrs): tf.Tensor[] | undefined {
  return runIfRegistered(ADAMW_STEP, { p, m, v, g }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[] | undefined;
}

/** dx = dy y - sum(dy y) y along the last axis, the gradient of y = softmax(x); see {@link SOFTMAX_GRAD}. */
export function softmaxGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor | undefined {
  return runIfRegistered(SOFTMAX_GRAD, { dy, y }, {}) as tf.Tensor | undefined;
}

/**
 * One of attention's products under a causal mask (`attrs.masked`: the output's hidden entries are not wanted,
 * or A's hidden entries are zero), computing only what the mask leaves visible; see {@link CausalMaskAttrs}.
 */
export function maskedMatMul(a: tf.Tensor, b: tf.Tensor, attrs: CausalMaskAttrs): tf.Tensor | undefined {
  return runIfRegistered(MASKED_BATCH_MATMUL, { a, b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | undefined;
}

/** sum_i ||x_i||^2 of float32 tensors as a scalar (tf.addN of each one's tf.sum(tf.square(x))); see {@link SQUARED_NORM}. */
export function squaredNorm(xs: tf.Tensor[]): tf.Scalar | undefined {
  if (xs.length === 0) return undefined;
  return runIfRegistered(SQUARED_NORM, Object.fromEntries(xs.map((x, i) => [`x${i}`, x])), {}) as tf.Scalar | undefined;
}

/**
 * One decoding step of attention for every row and head, appending the step's keys and values to the cached
 * ones: q [B, H*h], k and v [B, Hkv*h], keyMask [B, S] (past + this step), past keys/values [B, Hkv, P, h] (keys
 * [B, Hkv, h, P] with `attrs.keysTransposed`) with their first S-1 positions filled (absent on the first step).
 * Returns the attended rows [B, H*h] and the grown keys [B, Hkv, h, P'] (transposed) and values [B, Hkv, P', h],
 * their first S positions filled: the past's own buffers when they had a free slot, which the step then writes in
 * place; see {@link DECODE_ATTENTION}.
 */
export function decodeAttention(
  step: { q: tf.Tensor2D; k: tf.Tensor2D; v: tf.Tensor2D },
  keyMask: tf.Tensor2D,
  past: { k: tf.Tensor4D; v: tf.Tensor4D } | undefined,
  attrs: DecodeAttentionAttrs,
): { out: tf.Tensor2D; keys: tf.Tensor4D; values: tf.Tensor4D } | undefined {
  const inputs: tf.NamedTensorMap = past ? { ...step, keyMask, pastK: past.k, pastV: past.v } : { ...step, keyMask };
  const result = runIfRegistered(DECODE_ATTENTION, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[] | undefined;
  if (!result) return undefined;
  const [out, keys, values] = result;
  return { out: out as tf.Tensor2D, keys: keys as tf.Tensor4D, values: values as tf.Tensor4D };
}

/**
 * The weights {@link decodeBlock} takes (see {@link DECODE_BLOCK}): norm gains (and shifts, for LayerNorm), the
 * fused q|k|v projection, the output projection, the MLP's (w_in for GELU, or w_gate and w_up for SwiGLU, then
 * w_out), each with its bias where the layout has one, and for rotary layouts this step's cos/sin rows [B, h] and
 * the rotate-half matrix [h, h].
 */
export interface DecodeBlockWeights {
  ln1g: tf.Tensor; ln1b?: tf.Tensor; wqkv: tf.Tensor; bqkv?: tf.Tensor; wo: tf.Tensor; bo?: tf.Tensor;
  ln2g: tf.Tensor; ln2b?: tf.Tensor; wIn?: tf.Tensor; bIn?: tf.Tensor; wGate?: tf.Tensor; wUp?: tf.Tensor;
  wOut: tf.Tensor; bOut?: tf.Tensor; cos?: tf.Tensor; sin?: tf.Tensor; rotateHalf?: tf.Tensor;
}

/**
 * One transformer block (GPT-2, Llama or Qwen2 layout) for one new token per row, x [B, C] -> x' [B, C], attending
 * over the cached keys/values (grown by this step's, as {@link decodeAttention}); see {@link DECODE_BLOCK}.
 */
export function decodeBlock(
  x: tf.Tensor2D,
  weights: DecodeBlockWeights,
  keyMask: tf.Tensor2D,
  past: { k: tf.Tensor4D; v: tf.Tensor4D } | undefined,
  attrs: DecodeBlockAttrs,
): { out: tf.Tensor2D; keys: tf.Tensor4D; values: tf.Tensor4D } | undefined {
  const given = Object.fromEntries(Object.entries(weights).filter(([, t]) => t !== undefined)) as tf.NamedTensorMap;
  const inputs: tf.NamedTensorMap = { x, ...given, keyMask, ...(past ? { pastK: past.k, pastV: past.v } : {}) };
  const result = runIfRegistered(DECODE_BLOCK, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[] | undefined;
  if (!result) return undefined;
  const [out, keys, values] = result;
  return { out: out as tf.Tensor2D, keys: keys as tf.Tensor4D, values: values as tf.Tensor4D };
}

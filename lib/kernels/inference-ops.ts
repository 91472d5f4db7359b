import * as tf from '@tensorflow/tfjs';
import { ROW_NORM, type RowNormAttrs } from './row-norm';

/**
 * One-kernel forms of ops that a model otherwise composes from several, for inference (no gradient is
 * registered for them). Each returns undefined when the active backend has no such kernel, so the caller falls
 * back to the composite ops. (A one-kernel GELU was tried and dropped: its polynomial in a JS loop cost as much
 * as the six wasm ops it replaced.)
 */
function runIfRegistered(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | undefined {
  if (tf.getKernel(name, tf.getBackend()) === undefined) return undefined;
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
}

/** LayerNorm (`bias` given) or RMSNorm (no bias) of each row of x [N, d]; see {@link ROW_NORM}. */
export function rowNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number): tf.Tensor2D | undefined {
  const attrs: RowNormAttrs = { eps, center: bias !== undefined };
  const inputs: tf.NamedTensorMap = bias ? { x, gain, bias } : { x, gain };
  return runIfRegistered(ROW_NORM, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D | undefined;
}

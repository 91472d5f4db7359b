/**
 * The kernels a forward pass may take instead of the reference tf ops of layers.ts, where a backend has them and
 * no gradient is needed (decoding with a KV cache). Each returns undefined where the backend has no such kernel,
 * and the reference path runs; so the model code reads as the reference, and a fast path is swapped in one place.
 */
import type * as tf from '@tensorflow/tfjs';
import { decodeAttention, decodeBlock, rowNorm } from '../kernels/fused-ops';

export interface FastOps {
  /** LayerNorm (with `shift`) or RMSNorm of rows x [N, C] as one kernel. */
  norm(x: tf.Tensor2D, gain: tf.Tensor1D, shift: tf.Tensor1D | undefined, eps: number): tf.Tensor2D | undefined;
  /**
   * One new token per row: q [B, H*h], k and v [B, Hkv*h] attend over the cached keys/values (grown by this
   * step's) under the key mask [B, S]; returns the attended rows [B, H*h] and the grown keys/values.
   */
  decodeAttention: typeof decodeAttention;
  /**
   * One new token per row through a whole GPT-2-layout block (LayerNorms, attention over the cache, GELU MLP):
   * x [B, C] -> [B, C], with the grown keys/values.
   */
  decodeBlock: typeof decodeBlock;
}

/** The project's fused kernels (registered on wasm; see lib/kernels). */
export const FUSED_OPS: FastOps = { norm: rowNorm, decodeAttention, decodeBlock };

/** No fast paths: every op of the reference path (for checking a fast path against it). */
export const REFERENCE_OPS: FastOps = { norm: () => undefined, decodeAttention: () => undefined, decodeBlock: () => undefined };

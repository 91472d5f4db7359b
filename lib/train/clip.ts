import * as tf from '@tensorflow/tfjs';
import { squaredNorm } from '../kernels/fused-ops';

/**
 * The global L2 norm of gradients, sqrt(sum_i ||g_i||^2), and the factor min(1, maxNorm / (norm + 1e-6)) that
 * scales them to a norm of at most maxNorm (Pascanu et al., 2013). The norm is one kernel where the backend has
 * `SquaredNorm` (wasm), with the same rounding as the composite ops.
 */
export function globalNormScale(grads: Record<string, tf.Tensor>, maxNorm: number): { norm: tf.Scalar; scale: tf.Scalar } {
  return tf.tidy(() => {
    const xs = Object.values(grads);
    const squared = squaredNorm(xs) ?? (xs.length > 0 ? tf.addN(xs.map((g) => tf.sum(tf.square(g)))) : tf.scalar(0));
    const norm = tf.sqrt(squared) as tf.Scalar;
    return { norm, scale: tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) as tf.Scalar };
  });
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (see {@link globalNormScale}).
 * Returns the (possibly) scaled gradients and the norm before clipping; the inputs are not disposed.
 */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  return tf.tidy(() => {
    const { norm, scale } = globalNormScale(grads, maxNorm);
    const clipped = Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, scale)]));
    return { grads: clipped, norm };
  });
}

import * as tf from '@tensorflow/tfjs';

/**
 * Scales gradients so their global L2 norm, sqrt(sum_i ||g_i||^2), is at most maxNorm (Pascanu et al., 2013).
 * Returns the (possibly) scaled gradients and the norm before clipping; the inputs are not disposed.
 */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(squares.length > 0 ? tf.addN(squares) : tf.scalar(0)) as tf.Scalar;
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    const clipped = Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, scale)]));
    return { grads: clipped, norm };
  });
}

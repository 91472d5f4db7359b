import * as tf from '@tensorflow/tfjs';
import { tokenLogProbs } from '../model/logprobs';

/**
 * Mean next-token cross-entropy over the positions a mask selects: -sum(mask * log p(target)) / sum(mask).
 * logits [B, T, V], targets [B, T] (token ids), mask [B, T] (1 where the loss is taken, 0 elsewhere; fractional
 * values weight positions). Returns 0 when the mask is empty.
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => maskedNegativeLogLikelihood(tokenLogProbs(logits, targets), mask));
}

/** -sum(mask * logprobs) / sum(mask) for log-probs [B, T] of the targets (see {@link maskedCrossEntropy}). */
export function maskedNegativeLogLikelihood(logprobs: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const weights = tf.cast(mask, 'float32');
    const nll = tf.neg(logprobs);
    return tf.div(tf.sum(tf.mul(nll, weights)), tf.maximum(tf.sum(weights), 1e-9)) as tf.Scalar;
  });
}

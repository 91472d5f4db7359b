import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm';

/**
 * log p(target) under each row of logits: log_softmax(logits)[..., target]. logits [B, T, V], targets [B, T]
 * -> [B, T]. Computed as (x_t - max x) + log max(softmax(x)), since the softmax at the argmax is exp(0) / S =
 * 1 / S with S = sum exp(x - max x): no element-wise Exp (wasm's is scalar, 16 ns a value, against its
 * vectorised Softmax), and never log of an underflowed probability. The gradient is written out:
 * d log p_t / dx = onehot(t) - softmax(x), one pass instead of differentiating each op.
 */
export function tokenLogProbs(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const vocab = logits.shape[2];
  const pick = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const oneHot = tf.oneHot(tf.cast(targets, 'int32'), vocab);
    const probs = tf.softmax(x);
    const value = tf.add(tf.sub(tf.sum(tf.mul(x, oneHot), -1), tf.max(x, -1)), tf.log(tf.max(probs, -1)));
    save([probs, oneHot]);
    return { value, gradFunc: (dy: tf.Tensor, [p, hot]: tf.Tensor[]) => tf.mul(tf.expandDims(dy, -1), tf.sub(hot, p)) };
  });
  return pick(logits) as tf.Tensor2D;
}

/**
 * Per-token log-probabilities of the given sequences: entry [b, t] is log p(ids[b, t+1] | ids[b, ..t]), shape
 * [B, T-1]. Differentiable (PPO's policy term); call inside tf.tidy or tf.grads. Entries at padding are
 * meaningless: weight them with attentionMask[:, 1:].
 */
export function sequenceLogProbs(model: CausalLM, ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor2D {
  const [batch, length] = ids.shape;
  const { logits } = model.forward(ids, { attentionMask });
  const predicting = tf.slice(logits, [0, 0, 0], [batch, length - 1, -1]);
  return tokenLogProbs(predicting, tf.slice(ids, [0, 1], [batch, length - 1]));
}

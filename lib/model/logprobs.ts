import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm';

/**
 * log p(target) under each row of logits: log_softmax(logits)[..., target]. logits [B, T, V], targets [B, T]
 * -> [B, T]. Picks with a one-hot product, which has a cheap gradient on every backend; log_softmax carries its
 * own gradient (softmax form), unlike logSumExp whose max is differentiated through an element-wise Equal.
 */
export function tokenLogProbs(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const vocab = logits.shape[2];
  return tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.cast(targets, 'int32'), vocab)), -1) as tf.Tensor2D;
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

import * as tf from '@tensorflow/tfjs';
import { tokenLogProbs } from './logprobs';
import type { T5Model } from './t5';

/**
 * log p(target[b, t] | source[b], target[b, <t]) under a T5 model, [B, T]. `sourceIds` [B, S] with `sourceMask`,
 * `targets` [B, T] right-padded (entries at padding are meaningless: weight them with the target mask).
 * Differentiable (the policy term of PPO, the distillation loss); call inside tf.tidy or tf.grads.
 */
export function t5TargetLogProbs(model: T5Model, sourceIds: tf.Tensor2D, sourceMask: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
  // decoder inputs: the start id, then the targets shifted right by one (HF's `_shift_right`)
  const decoderIds = tf.concat([tf.fill([targets.shape[0], 1], model.config.decoderStartId, 'int32'), tf.slice(tf.cast(targets, 'int32'), [0, 0], [-1, targets.shape[1] - 1])], 1);
  const { logits } = model.forward(sourceIds, decoderIds as tf.Tensor2D, { sourceMask });
  return tokenLogProbs(logits, targets);
}

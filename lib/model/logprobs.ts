import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm';
import { recomputed } from './recompute';

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

/** Entropy of each position's next-token distribution, H = logsumexp(z) − Σ softmax(z)·z; logits [..., V] -> [...]. */
export function entropyFromLogits(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const logNormaliser = tf.logSumExp(logits, -1);
    const expected = tf.sum(tf.mul(tf.softmax(logits), logits), -1);
    return tf.sub(logNormaliser, expected);
  });
}

/** What {@link scoreNextTokens} returns. */
export interface NextTokenScores {
  /** [B, T-1]: entry [b, t] is log p(ids[b, t+1] | ids[b, ..t]) under softmax(logits / temperature). */
  logprobs: tf.Tensor2D;
  /** [B, T-1]: the entropy of the same distributions, when asked for. */
  entropy?: tf.Tensor2D;
  /** The final hidden state [B, T, dModel] (the value head's input). */
  hidden: tf.Tensor3D;
}

/**
 * Log-probabilities of each next token of `ids` [B, T] (and, with `entropy`, each position's entropy) under the
 * model at `temperature`: what the training loss and RL need, never the logits themselves. With the model's
 * `logitChunkRows` 0 the logits [B, T-1, V] are computed at once; with n > 0, n rows at a time, each chunk
 * recomputed in the backward pass (recompute.ts), so at most n x V logits (and their gradient) are alive.
 * Differentiable; not tidied.
 */
export function scoreNextTokens(model: CausalLM, ids: tf.Tensor2D, options: { attentionMask?: tf.Tensor2D; temperature?: number; entropy?: boolean } = {}): NextTokenScores {
  const [batch, length] = ids.shape;
  const temperature = options.temperature ?? 1;
  const targets = tf.slice(ids, [0, 1], [batch, length - 1]) as tf.Tensor2D; // [B, T-1]
  if (model.logitChunkRows <= 0) {
    const { logits, hidden } = model.forward(ids, { attentionMask: options.attentionMask });
    const sliced = tf.slice(logits, [0, 0, 0], [batch, length - 1, -1]);
    const predicting = (temperature === 1 ? sliced : tf.div(sliced, temperature)) as tf.Tensor3D; // [B, T-1, V]
    return { logprobs: tokenLogProbs(predicting, targets), entropy: options.entropy ? entropyFromLogits(predicting) as tf.Tensor2D : undefined, hidden };
  }
  const hidden = model.hiddenStates(ids, { attentionMask: options.attentionMask }); // [B, T, C]
  const rows = tf.reshape(tf.slice(hidden, [0, 0, 0], [batch, length - 1, -1]), [batch * (length - 1), -1]) as tf.Tensor2D; // [N, C]
  const flatTargets = tf.reshape(tf.cast(targets, 'int32'), [-1]); // [N]
  const scoreChunk = (h: tf.Tensor, [chunkTargets]: tf.Tensor[]) => {
    const n = h.shape[0];
    const logits = model.logitsOf(h as tf.Tensor2D); // [n, V]
    const scaled = temperature === 1 ? logits : tf.div(logits, temperature);
    const logp = tf.reshape(tokenLogProbs(tf.expandDims(scaled, 0) as tf.Tensor3D, tf.expandDims(chunkTargets, 0) as tf.Tensor2D), [n]);
    return options.entropy ? tf.stack([logp, entropyFromLogits(scaled)], 1) : logp; // [n, 2] or [n]
  };
  const parts: tf.Tensor[] = [];
  const total = rows.shape[0];
  for (let start = 0; start < total; start += model.logitChunkRows) {
    const n = Math.min(model.logitChunkRows, total - start);
    parts.push(recomputed(scoreChunk, tf.slice(rows, [start, 0], [n, -1]), model.headWeights(), [tf.slice(flatTargets, [start], [n])]));
  }
  const scores = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  if (!options.entropy) return { logprobs: tf.reshape(scores, [batch, length - 1]), hidden };
  const [logprobs, entropy] = tf.unstack(scores, 1);
  return { logprobs: tf.reshape(logprobs, [batch, length - 1]), entropy: tf.reshape(entropy, [batch, length - 1]), hidden };
}

/**
 * Per-token log-probabilities of the given sequences: entry [b, t] is log p(ids[b, t+1] | ids[b, ..t]), shape
 * [B, T-1]. Differentiable (PPO's policy term); call inside tf.tidy or tf.grads. Entries at padding are
 * meaningless: weight them with attentionMask[:, 1:].
 */
export function sequenceLogProbs(model: CausalLM, ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor2D {
  return scoreNextTokens(model, ids, { attentionMask }).logprobs;
}

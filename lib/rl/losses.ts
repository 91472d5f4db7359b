/**
 * PPO losses on tensors. Every per-token tensor is [batch, time] with a float 0/1 mask of response tokens;
 * the caller owns the returned tensors (run these inside `tf.tidy`).
 */
import * as tf from '@tensorflow/tfjs';

/** Σ(x·mask) / Σ mask, a scalar. */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(x, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/** How per-token losses [B, T] become one number (see the `lossAggregation` setting). */
export type LossAggregation = 'token-mean' | 'sequence-mean' | 'constant';

/**
 * Aggregate per-token losses x [B, T] over the response mask: `token-mean` Σ x·m / Σ m; `sequence-mean`
 * (1/B) Σ_b (Σ_t x·m / Σ_t m); `constant` Σ x·m / (B · maxTokens) (Dr. GRPO's constant normaliser).
 */
export function aggregateLoss(x: tf.Tensor, mask: tf.Tensor, mode: LossAggregation, maxTokens: number): tf.Scalar {
  return tf.tidy(() => {
    if (mode === 'token-mean') return maskedMean(x, mask);
    const masked = tf.mul(x, mask);
    const rows = x.shape[0];
    if (mode === 'constant') return tf.div(tf.sum(masked), rows * maxTokens) as tf.Scalar;
    const perRow = tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1));
    return tf.mean(perRow) as tf.Scalar;
  });
}

/** The clipped surrogate loss with its diagnostics. */
export interface PolicyLoss {
  loss: tf.Scalar;
  /** Fraction of tokens where the clipped term was the active one. */
  clipFraction: tf.Scalar;
  /** k3 estimate of KL(π_old‖π): mean of (r − 1) − log r, r = π/π_old. */
  approxKL: tf.Scalar;
}

/**
 * PPO's clipped surrogate (Schulman et al. 2017, eq. 7), as a loss to minimise:
 * L = agg_t max(−A_t r_t, −A_t clip(r_t, 1 − ε_low, 1 + ε_high)),  r_t = exp(logp_t − logp_old_t);
 * ε_high = ε_low unless given (DAPO's clip-higher), `agg` a token mean unless `aggregation` says otherwise.
 */
export function clippedPolicyLoss(logprobs: tf.Tensor, oldLogprobs: tf.Tensor, advantages: tf.Tensor, mask: tf.Tensor, clipRange: number,
  options: { clipRangeHigh?: number; aggregation?: LossAggregation; maxTokens?: number } = {}): PolicyLoss {
  return tf.tidy(() => {
    const logRatio = tf.sub(logprobs, oldLogprobs);
    const ratio = tf.exp(logRatio);
    const unclipped = tf.mul(tf.neg(advantages), ratio);
    const clipped = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clipRange, 1 + (options.clipRangeHigh ?? clipRange)));
    const loss = aggregateLoss(tf.maximum(unclipped, clipped), mask, options.aggregation ?? 'token-mean', options.maxTokens ?? 1);
    const clipFraction = maskedMean(tf.cast(tf.greater(clipped, unclipped), 'float32'), mask);
    const approxKL = maskedMean(tf.sub(tf.sub(ratio, 1), logRatio), mask);
    return { loss, clipFraction, approxKL };
  });
}

/**
 * GRPO's KL penalty (Shao et al. 2024, eq. 4): the k3 estimate of KL(π‖π_ref) per token,
 * D_t = π_ref/π − log(π_ref/π) − 1 (≥ 0, unbiased on tokens sampled from π), averaged over response tokens.
 */
export function klPenalty(logprobs: tf.Tensor, refLogprobs: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const logRatio = tf.sub(refLogprobs, logprobs);
    return maskedMean(tf.sub(tf.sub(tf.exp(logRatio), logRatio), 1), mask);
  });
}

/** The clipped value loss with the fraction of tokens where clipping was active. */
export interface ValueLoss {
  loss: tf.Scalar;
  clipFraction: tf.Scalar;
}

/**
 * Clipped value loss (as in OpenAI baselines' PPO2): V_clip = V_old + clip(V − V_old, −ε_v, ε_v),
 * L = ½ mean_t max((V − R)², (V_clip − R)²).
 */
export function clippedValueLoss(values: tf.Tensor, oldValues: tf.Tensor, returns: tf.Tensor, mask: tf.Tensor, clipRange: number): ValueLoss {
  return tf.tidy(() => {
    const valuesClipped = tf.add(oldValues, tf.clipByValue(tf.sub(values, oldValues), -clipRange, clipRange));
    const unclippedError = tf.square(tf.sub(values, returns));
    const clippedError = tf.square(tf.sub(valuesClipped, returns));
    const loss = tf.mul(0.5, maskedMean(tf.maximum(unclippedError, clippedError), mask)) as tf.Scalar;
    const clipFraction = maskedMean(tf.cast(tf.greater(clippedError, unclippedError), 'float32'), mask);
    return { loss, clipFraction };
  });
}

export { entropyFromLogits } from '../model/logprobs';

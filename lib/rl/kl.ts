/**
 * KL penalty against the frozen reference policy and the controllers that set its coefficient β.
 */

/** Estimator of the per-token KL(π‖π_ref) from the sampled token's log-probs (Schulman, "Approximating KL"). */
export type KLEstimator = 'k1' | 'k3';

/**
 * Per-token KL estimate: k1 = logp − logp_ref (unbiased, may be negative); k3 = (r − 1) − log r with
 * r = p_ref / p (unbiased, always ≥ 0, lower variance). Masked positions get 0.
 */
export function perTokenKL(logprobs: number[][], refLogprobs: number[][], mask: number[][], estimator: KLEstimator = 'k1'): number[][] {
  return logprobs.map((row, b) => row.map((logp, t) => {
    if (!mask[b][t]) return 0;
    const logRatio = refLogprobs[b][t] - logp;
    return estimator === 'k1' ? -logRatio : Math.expm1(logRatio) - logRatio;
  }));
}

/**
 * Per-token rewards of a PPO rollout: −β·KL_t at every response token, plus the sequence's score on its last real
 * token (Ziegler et al. 2019, eq. 2).
 */
export function shapedRewards(scores: number[], kl: number[][], mask: number[][], beta: number): number[][] {
  if (scores.length !== mask.length) throw new Error(`shapedRewards: ${scores.length} scores for ${mask.length} rows`);
  return mask.map((row, b) => {
    const last = row.lastIndexOf(1);
    if (last < 0) throw new Error(`shapedRewards: row ${b} has no response tokens`);
    return row.map((m, t) => (m ? -beta * kl[b][t] + (t === last ? scores[b] : 0) : 0));
  });
}

/** Sets the KL coefficient β from the KL observed in each batch. */
export interface KLController {
  readonly value: number;
  /** Observe the batch's mean per-sequence KL after `nSteps` samples (episodes) and move β. */
  update(currentKL: number, nSteps: number): void;
  state(): { value: number };
  loadState(state: { value: number }): void;
}

/** A constant β. */
export class FixedKLController implements KLController {
  constructor(public value: number) {
    if (!(value >= 0)) throw new Error(`FixedKLController: coefficient must be >= 0, got ${value}`);
  }
  update(): void {}
  state(): { value: number } {
    return { value: this.value };
  }
  loadState(state: { value: number }): void {
    this.value = state.value;
  }
}

/**
 * The adaptive controller of Ziegler et al. (2019, §2.2): e = clip(KL / target − 1, −0.2, 0.2),
 * β ← β (1 + e · n_steps / horizon). β grows when the policy drifts further than the target, and shrinks otherwise.
 */
export class AdaptiveKLController implements KLController {
  constructor(public value: number, readonly target: number, readonly horizon: number) {
    if (!(value > 0)) throw new Error(`AdaptiveKLController: initial coefficient must be > 0, got ${value}`);
    if (!(target > 0)) throw new Error(`AdaptiveKLController: target must be > 0, got ${target}`);
    if (!(horizon > 0)) throw new Error(`AdaptiveKLController: horizon must be > 0, got ${horizon}`);
  }
  update(currentKL: number, nSteps: number): void {
    const error = Math.min(Math.max(currentKL / this.target - 1, -0.2), 0.2);
    this.value *= 1 + (error * nSteps) / this.horizon;
  }
  state(): { value: number } {
    return { value: this.value };
  }
  loadState(state: { value: number }): void {
    this.value = state.value;
  }
}

/**
 * Reward scaling and clipping applied to the scores before they enter the per-token rewards.
 */

/** Running mean/variance over every score seen so far (Chan et al.'s parallel update), saved with the trainer. */
export class RunningMoments {
  mean = 0;
  variance = 1;
  count = 0;

  /** Merge a batch into the running moments. */
  update(values: number[]): void {
    if (values.length === 0) return;
    const n = values.length;
    const batchMean = values.reduce((a, b) => a + b, 0) / n;
    const batchVariance = values.reduce((a, v) => a + (v - batchMean) ** 2, 0) / n;
    const total = this.count + n;
    const delta = batchMean - this.mean;
    const m2 = (this.count ? this.variance * this.count : 0) + batchVariance * n + (delta * delta * this.count * n) / total;
    this.mean += (delta * n) / total;
    this.variance = m2 / total;
    this.count = total;
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }

  state(): { mean: number; variance: number; count: number } {
    return { mean: this.mean, variance: this.variance, count: this.count };
  }

  loadState(state: { mean: number; variance: number; count: number }): void {
    Object.assign(this, state);
  }
}

/** How scores are scaled: not at all, or divided by the running standard deviation of all scores so far. */
export type RewardScaling = 'none' | 'running-std';

/**
 * Scale (after updating the running moments with this batch) and then clip each score to [−clip, clip].
 * Division only, no centring: the sign of a score keeps its meaning.
 */
export function scaleAndClipScores(scores: number[], scaling: RewardScaling, moments: RunningMoments, clip?: number): number[] {
  let out = scores;
  if (scaling === 'running-std') {
    moments.update(scores);
    const std = moments.std;
    out = out.map((s) => (std > 1e-8 ? s / std : s));
  }
  if (clip !== undefined) out = out.map((s) => Math.min(Math.max(s, -clip), clip));
  return out;
}

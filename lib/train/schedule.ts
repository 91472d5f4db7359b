/** Learning-rate schedule settings of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** Learning rate reached at the end of warmup. */
  peakLr: number;
  /** Updates of linear warmup from peakLr / warmupSteps up to peakLr. */
  warmupSteps: number;
  /** Total updates: the cosine reaches minLr here and stays there. */
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/**
 * Learning rate of update `step` (0-based): linear warmup over `warmupSteps` updates, ending at peakLr, then
 * half a cosine from peakLr down to minLr at `totalSteps` (Loshchilov & Hutter, 2017, SGDR eq. 5 without restarts).
 */
export function warmupCosine(step: number, options: WarmupCosineOptions): number {
  const { peakLr, warmupSteps, totalSteps, minLr = 0 } = options;
  if (step < warmupSteps) return (peakLr * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return minLr + 0.5 * (peakLr - minLr) * (1 + Math.cos(Math.PI * progress));
}

/**
 * Advantage estimators on plain arrays (rows of one rollout batch are short, so a reverse scan in JS is cheaper
 * than tensor ops). Every per-token array is `[batch][time]` with a 0/1 mask marking real response tokens.
 */

/** Per-token advantages and the value targets (returns) they imply. */
export interface AdvantageResult {
  advantages: number[][];
  returns: number[][];
}

function checkSameShape(name: string, rows: number[][], mask: number[][]): void {
  if (rows.length !== mask.length) throw new Error(`${name}: ${rows.length} rows but mask has ${mask.length}`);
  rows.forEach((row, b) => {
    if (row.length !== mask[b].length) throw new Error(`${name}: row ${b} has ${row.length} steps but mask has ${mask[b].length}`);
  });
}

/**
 * Generalised advantage estimation (Schulman et al. 2016, eq. 16):
 * δ_t = r_t + γ V_{t+1} − V_t,  A_t = δ_t + γλ A_{t+1},  returns R_t = A_t + V_t.
 * Masked positions are skipped: the "next" step of a real token is the next real token of its row, and the value
 * after the last real token is 0 (the episode ends there). Masked positions get advantage and return 0.
 */
export function gae(rewards: number[][], values: number[][], mask: number[][], gamma: number, lambda: number): AdvantageResult {
  checkSameShape('gae rewards', rewards, mask);
  checkSameShape('gae values', values, mask);
  const advantages = mask.map((row) => row.map(() => 0));
  const returns = mask.map((row) => row.map(() => 0));
  for (let b = 0; b < mask.length; b++) {
    let nextValue = 0;
    let nextAdvantage = 0;
    for (let t = mask[b].length - 1; t >= 0; t--) {
      if (!mask[b][t]) continue;
      const delta = rewards[b][t] + gamma * nextValue - values[b][t];
      nextAdvantage = delta + gamma * lambda * nextAdvantage;
      nextValue = values[b][t];
      advantages[b][t] = nextAdvantage;
      returns[b][t] = nextAdvantage + values[b][t];
    }
  }
  return { advantages, returns };
}

/** Mean and (population) variance of the masked entries. */
export function maskedMoments(values: number[][], mask: number[][]): { mean: number; variance: number; count: number } {
  checkSameShape('maskedMoments', values, mask);
  let count = 0;
  let sum = 0;
  values.forEach((row, b) => row.forEach((v, t) => { if (mask[b][t]) { sum += v; count++; } }));
  if (count === 0) throw new Error('maskedMoments: the mask selects no entries');
  const mean = sum / count;
  let squares = 0;
  values.forEach((row, b) => row.forEach((v, t) => { if (mask[b][t]) squares += (v - mean) ** 2; }));
  return { mean, variance: squares / count, count };
}

/**
 * Whitening over the masked entries: (x − mean) / sqrt(var + eps); with `shiftMean = false` the mean is added
 * back, keeping the sign of the raw advantages. Masked positions stay 0.
 */
export function whiten(values: number[][], mask: number[][], shiftMean = true, eps = 1e-8): number[][] {
  const { mean, variance } = maskedMoments(values, mask);
  const scale = 1 / Math.sqrt(variance + eps);
  return values.map((row, b) => row.map((v, t) => {
    if (!mask[b][t]) return 0;
    const centred = (v - mean) * scale;
    return shiftMean ? centred : centred + mean;
  }));
}

function groupsOf(rewards: number[], k: number, name: string): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`${name}: needs k >= 2 samples per prompt, got ${k}`);
  if (rewards.length % k !== 0) throw new Error(`${name}: ${rewards.length} rewards are not a whole number of groups of ${k}`);
  const groups: number[][] = [];
  for (let i = 0; i < rewards.length; i += k) groups.push(rewards.slice(i, i + k));
  return groups;
}

/**
 * RLOO (Ahmadian et al. 2024): each of the k samples of a prompt is baselined by the mean reward of the other
 * k − 1: A_i = r_i − (Σ_j r_j − r_i) / (k − 1). `rewards` holds consecutive groups of k samples per prompt.
 */
export function rlooAdvantages(rewards: number[], k: number): number[] {
  return groupsOf(rewards, k, 'rlooAdvantages').flatMap((group) => {
    const total = group.reduce((a, b) => a + b, 0);
    return group.map((r) => r - (total - r) / (k - 1));
  });
}

/**
 * GRPO (Shao et al. 2024): rewards centred within each group of k samples and scaled, A_i = (r_i − mean) / (std + eps),
 * with the sample (n − 1) standard deviation of the group (`group`, the default), of the whole batch (`batch`), or
 * no division (`none`, Dr. GRPO). A group whose samples all score the same gets advantage 0.
 */
export function grpoAdvantages(rewards: number[], k: number, eps = 1e-6, scaling: 'group' | 'batch' | 'none' = 'group'): number[] {
  const sampleStd = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return Math.sqrt(xs.reduce((a, r) => a + (r - mean) ** 2, 0) / (xs.length - 1));
  };
  const batchStd = scaling === 'batch' ? sampleStd(rewards) : 1;
  return groupsOf(rewards, k, 'grpoAdvantages').flatMap((group) => {
    const mean = group.reduce((a, b) => a + b, 0) / k;
    const scale = scaling === 'group' ? sampleStd(group) + eps : scaling === 'batch' ? batchStd + eps : 1;
    return group.map((r) => (r - mean) / scale);
  });
}

/**
 * Fraction of the returns' variance the value predictions explain: 1 − Var(R − V) / Var(R) over masked entries
 * (1 is perfect, 0 is no better than a constant, negative is worse). NaN when the returns have no variance.
 */
export function explainedVariance(values: number[][], returns: number[][], mask: number[][]): number {
  const residual = returns.map((row, b) => row.map((r, t) => r - values[b][t]));
  const returnVariance = maskedMoments(returns, mask).variance;
  if (returnVariance === 0) return Number.NaN;
  return 1 - maskedMoments(residual, mask).variance / returnVariance;
}

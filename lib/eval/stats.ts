import { Random } from '../random';

/**
 * Statistics for comparing conditions: a paired bootstrap interval and an exact McNemar test for two conditions
 * scored on the same questions, and a t-interval for a figure measured over seeds.
 */

/** Two conditions compared on the same questions (B minus A). */
export interface PairedComparison {
  /** The baseline condition (e.g. `distilled`). */
  a: string;
  /** The condition compared with it (e.g. `rl`). */
  b: string;
  /** Questions both conditions answered. */
  n: number;
  /** Accuracy of B minus accuracy of A, in percentage points. */
  diff: number;
  /** Paired bootstrap 95% interval of `diff` (percentile method), percentage points. */
  ci95: [number, number];
  /** Questions A got right and B wrong. */
  onlyA: number;
  /** Questions B got right and A wrong. */
  onlyB: number;
  /** Exact McNemar p-value: two-sided binomial test of `onlyB` against `onlyA`, p = 1/2. */
  pValue: number;
}

/**
 * Exact McNemar test: with `b` and `c` discordant pairs, the two-sided p-value of a binomial test of b against
 * Bin(b + c, 1/2), p = min(1, 2 · P(X <= min(b, c))). 1 when there is no discordant pair.
 */
export function mcnemarExact(b: number, c: number): number {
  for (const [name, value] of [['b', b], ['c', c]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`mcnemarExact: ${name} must be a non-negative integer, got ${value}`);
  }
  const n = b + c;
  if (n === 0) return 1;
  // P(X <= k) = sum_{i<=k} C(n, i) / 2^n, accumulated in logs so large n does not overflow.
  const k = Math.min(b, c);
  let logTerm = -n * Math.LN2; // log(C(n, 0) / 2^n)
  let tail = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logTerm);
  }
  return Math.min(1, 2 * tail);
}

/** A percentile of sorted values, linearly interpolated (the `type 7` rule of R and numpy). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantileSorted: no values');
  const position = (sorted.length - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/**
 * Paired bootstrap 95% interval of mean(b_i − a_i): `resamples` times, draw n question indices with replacement
 * (seeded) and take the mean difference; the interval is the 2.5th and 97.5th percentiles of those means.
 */
export function pairedBootstrapCI(a: readonly number[], b: readonly number[], options: { resamples?: number; seed?: number } = {}): [number, number] {
  if (a.length !== b.length) throw new Error(`pairedBootstrapCI: ${a.length} values against ${b.length}; pairs need equal lengths`);
  if (a.length === 0) throw new Error('pairedBootstrapCI: no pairs');
  const resamples = options.resamples ?? 10_000;
  const random = new Random(options.seed ?? 0);
  const diffs = a.map((x, i) => b[i] - x);
  const n = diffs.length;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += diffs[random.int(n)];
    means[r] = sum / n;
  }
  const sorted = Array.from(means).sort((x, y) => x - y);
  return [quantileSorted(sorted, 0.025), quantileSorted(sorted, 0.975)];
}

/**
 * Compare two conditions scored on the same questions (1 right, 0 wrong, in the same question order): accuracy
 * difference B − A in percentage points with its paired bootstrap 95% interval, and the exact McNemar p-value.
 */
export function compareConditions(a: { condition: string; correct: readonly boolean[] }, b: { condition: string; correct: readonly boolean[] },
  options: { resamples?: number; seed?: number } = {}): PairedComparison {
  if (a.correct.length !== b.correct.length) {
    throw new Error(`compareConditions: "${a.condition}" has ${a.correct.length} questions, "${b.condition}" ${b.correct.length}; they must be the same questions`);
  }
  const xs = a.correct.map(Number);
  const ys = b.correct.map(Number);
  const n = xs.length;
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < n; i++) {
    if (xs[i] > ys[i]) onlyA++;
    if (ys[i] > xs[i]) onlyB++;
  }
  const [lo, hi] = n === 0 ? [Number.NaN, Number.NaN] : pairedBootstrapCI(xs, ys, options);
  return {
    a: a.condition, b: b.condition, n,
    diff: n === 0 ? Number.NaN : (100 * (onlyB - onlyA)) / n,
    ci95: [100 * lo, 100 * hi],
    onlyA, onlyB, pValue: mcnemarExact(onlyA, onlyB),
  };
}

/** Every pair of conditions (in the given order: each later one against each earlier one). */
export function compareAllPairs(conditions: readonly { condition: string; correct: readonly boolean[] }[], options: { resamples?: number; seed?: number } = {}): PairedComparison[] {
  const out: PairedComparison[] = [];
  for (let j = 1; j < conditions.length; j++) {
    for (let i = 0; i < j; i++) out.push(compareConditions(conditions[i], conditions[j], options));
  }
  return out;
}

/** One line: `rl − distilled: +4.0 points [95% −1.3, +9.3], McNemar p 0.146 (only rl right 10, only distilled right 4, n 150)`. */
export function formatComparison(c: PairedComparison): string {
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
  const p = c.pValue < 0.001 ? c.pValue.toExponential(1) : c.pValue.toFixed(3);
  return `${c.b} − ${c.a}: ${signed(c.diff)} points [95% ${signed(c.ci95[0])}, ${signed(c.ci95[1])}], McNemar p ${p} `
    + `(only ${c.b} right ${c.onlyB}, only ${c.a} right ${c.onlyA}, n ${c.n})`;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the regularised incomplete beta function (Numerical Recipes, betacf; modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < tiny ? tiny : d;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    for (const aa of [(m * (b - m) * x) / ((a + m2 - 1) * (a + m2)), (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))]) {
      d = 1 + aa * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + aa / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** CDF of Student's t with `df` degrees of freedom: for t > 0, 1 − I_{df/(df+t²)}(df/2, 1/2) / 2. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The q-quantile of Student's t with `df` degrees of freedom (bisection on the CDF). */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1)) throw new Error(`studentTQuantile: q must be in (0, 1), got ${q}`);
  if (!(df > 0)) throw new Error(`studentTQuantile: df must be > 0, got ${df}`);
  let [lo, hi] = [-1e6, 1e6];
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(hi)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Mean, sample standard deviation (n − 1) and the t-based 95% interval of the mean of values measured over seeds. */
export interface SeedSummary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one value. */
  std: number;
  /** mean ± t_{0.975, n−1} · std / √n; [NaN, NaN] for fewer than two values. */
  ci95: [number, number];
}

/** {@link SeedSummary} of `values` (e.g. one accuracy per seed). */
export function seedSummary(values: readonly number[]): SeedSummary {
  const n = values.length;
  if (n === 0) throw new Error('seedSummary: no values');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? 0 : Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  if (n < 2) return { n, mean, std, ci95: [Number.NaN, Number.NaN] };
  const half = studentTQuantile(0.975, n - 1) * (std / Math.sqrt(n));
  return { n, mean, std, ci95: [mean - half, mean + half] };
}

/**
 * {@link SeedSummary} of runs nested in groups (e.g. RL seeds that share one distilled student): the groups are the
 * independent units, so the interval is the t-interval over the group means (groups − 1 degrees of freedom) and
 * `n` counts groups. `groups[i]` names the group of `values[i]`.
 */
export function nestedSeedSummary(values: readonly number[], groups: readonly (string | number)[]): SeedSummary {
  if (values.length !== groups.length) throw new Error(`nestedSeedSummary: ${values.length} values but ${groups.length} groups`);
  const members = new Map<string | number, number[]>();
  values.forEach((v, i) => members.set(groups[i], [...(members.get(groups[i]) ?? []), v]));
  return seedSummary([...members.values()].map((vs) => vs.reduce((a, b) => a + b, 0) / vs.length));
}

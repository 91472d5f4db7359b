import { productCalls, type GemmCall, type GemmPlan } from './sequential-gemm';

/** Name of the attention product that skips what a causal mask hides (see {@link CausalMaskAttrs}). */
export const MASKED_BATCH_MATMUL = 'MaskedBatchMatMul';

/**
 * Attrs of `MaskedBatchMatMul`: a BatchMatMul (`transposeA`, `transposeB` as tf.matMul) of attention's, under a
 * causal mask over query rows and keys: query row r sees key s iff s <= past + (r mod queries) (a product's query
 * rows are groups of `queries` consecutive rows, one group per query head of a grouped-query head).
 * - `masked: 'output'`: C is [.., query rows, keys] and only its visible entries are wanted; the hidden ones are
 *   +0 or the product's value (the scores before the additive mask, the probabilities' gradient before softmax's).
 * - `masked: 'a'`: A as stored is [.., query rows, keys] and +-0 where hidden (probabilities, or their gradient
 *   through softmax), so those terms are left out of each sum; C is the product (up to the sign of an all-zero sum).
 * Every sum over t still runs in order of t, so each visible value has the bits of the full product.
 */
export interface CausalMaskAttrs {
  transposeA: boolean;
  transposeB: boolean;
  queries: number;
  past: number;
  masked: 'output' | 'a';
}

/** Throws unless a product C [m, n] over k terms has whole groups of the mask's query rows where it needs them. */
export function checkMask(mask: CausalMaskAttrs, m: number, n: number, k: number): void {
  const queryRows = mask.masked === 'a' && mask.transposeA ? k : m;
  if (!Number.isInteger(queryRows / mask.queries)) {
    throw new Error(`MaskedBatchMatMul: a product [${m}, ${n}] over ${k} terms (transposeA=${mask.transposeA}) `
      + `has no whole groups of ${mask.queries} query rows for masked='${mask.masked}'`);
  }
}

/** A product's shape, C [m, n] over k terms, and how A is read: A(i, t) at a + i aRow + t aCol (B, C row-major). */
export interface ProductShape {
  m: number;
  n: number;
  k: number;
  aRow: number;
  aCol: number;
}

/** Calls that write a block of C's rows, and their multiply-adds (for sharing blocks among threads). */
export interface Unit {
  calls: GemmCall[];
  macs: number;
}

/** Rows per block: the first block of a product reads up to this many keys it need not. */
const blockRows = (queries: number): number => 8 * Math.ceil(queries / 256);

/**
 * The blocks of rows of one masked product, each with the calls that compute what the mask leaves visible (and
 * write +0 over the rest of C, with calls over no terms), at offsets from the product's A, B and C (see GemmPlan).
 */
export function causalUnits(mask: CausalMaskAttrs, shape: ProductShape): Unit[] {
  const { m, n, k, aRow, aCol } = shape;
  const { queries, past } = mask;
  const rowsByKeys = mask.masked === 'a' && mask.transposeA; // C [keys, query rows' columns]: dK, dV
  const groups = (rowsByKeys ? k : m) / queries;
  const step = blockRows(queries);
  const units: Unit[] = [];
  if (rowsByKeys) {
    // C(s, j) = sum over query rows r with s <= past + (r mod queries): in each group the rows from s - past on.
    for (let s = 0; s < m; s += step) {
      const rows = Math.min(step, m - s);
      const from = Math.max(0, s - past);
      const calls: GemmCall[] = [];
      for (let g = 0; g < groups; g++) {
        const start = g * queries + from;
        const count = (g + 1) * queries - start;
        if (count > 0) calls.push(...productCalls(rows, n, count, s * aRow + start * aCol, aRow, aCol, start * n, n, s * n, n, calls.length > 0));
      }
      if (calls.length === 0) calls.push(...productCalls(rows, n, 0, s * aRow, aRow, aCol, 0, n, s * n, n)); // all +0
      units.push({ calls, macs: rows * n * Math.max(0, queries - from) * groups });
    }
    return units;
  }
  for (let row = 0, rows = 0; row < m; row += rows) {
    const first = row % queries; // the block's first query position in its group
    rows = Math.min(step, queries - first);
    const visible = past + first + rows; // keys any row of the block sees
    if (mask.masked === 'a') {
      // C(r, j) = sum over keys t < visible (A's later keys are hidden for every row of the block)
      const terms = Math.min(k, visible);
      units.push({ calls: productCalls(rows, n, terms, row * aRow, aRow, aCol, 0, n, row * n, n), macs: rows * n * terms });
      continue;
    }
    // C(r, s) for keys s < visible, in whole vectors of 8; the rest of the rows +0
    const width = Math.min(n, 8 * Math.ceil(visible / 8));
    const calls = productCalls(rows, width, k, row * aRow, aRow, aCol, 0, n, row * n, n);
    if (width < n) calls.push(...productCalls(rows, n - width, 0, 0, aRow, aCol, 0, n, row * n + width, n));
    units.push({ calls, macs: rows * width * k });
  }
  return units;
}

/**
 * Plans for `parts` threads that run the units for the products at `bases` (triples a, b, c, as GemmPlan):
 * the products shared among the parts when there are at least as many, else the units, with about equal
 * multiply-adds each.
 */
export function sharePlans(units: Unit[], bases: number[], parts: number): GemmPlan[] {
  const products = bases.length / 3;
  const calls = units.flatMap((unit) => unit.calls);
  if (parts === 1) return [{ calls, bases }];
  if (products >= parts) {
    return Array.from({ length: parts }, (_, part) => ({
      calls,
      bases: bases.slice(3 * Math.floor((part * products) / parts), 3 * Math.floor(((part + 1) * products) / parts)),
    }));
  }
  const total = units.reduce((sum, unit) => sum + unit.macs, 0);
  const plans: GemmPlan[] = Array.from({ length: parts }, () => ({ calls: [], bases }));
  let done = 0;
  for (const unit of units) {
    // the unit goes to the part whose share its middle falls in
    const part = total === 0 ? 0 : Math.min(parts - 1, Math.floor(((done + unit.macs / 2) * parts) / total));
    plans[part].calls.push(...unit.calls);
    done += unit.macs;
  }
  return plans;
}

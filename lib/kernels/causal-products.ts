import { productCalls, type GemmCall } from './sequential-gemm';

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

/** Whether C's rows are keys (A^T's rows, A masked: dk = ds^T q, dv = p^T dy); else they are query rows. */
const rowsAreKeys = (mask: CausalMaskAttrs): boolean => mask.masked === 'a' && mask.transposeA;

/** Throws unless a product C [m, n] over k terms has whole groups of the mask's query rows where it needs them. */
export function checkMask(mask: CausalMaskAttrs, m: number, n: number, k: number): void {
  const queryRows = rowsAreKeys(mask) ? k : m;
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

/** Rows per block: the first block of a product reads up to this many keys it need not. */
const blockRows = (queries: number): number => 8 * Math.ceil(queries / 256);

/**
 * The blocks of rows of one masked product (the units of a GemmJob), each with the calls that compute what the mask
 * leaves visible (and write +0 over the rest of C, with calls over no terms), at offsets from the product's A, B
 * and C.
 */
export function causalUnits(mask: CausalMaskAttrs, shape: ProductShape): GemmCall[][] {
  const { m, n, k, aRow, aCol } = shape;
  const { queries, past } = mask;
  const rowsByKeys = rowsAreKeys(mask);
  const groups = (rowsByKeys ? k : m) / queries;
  const step = blockRows(queries);
  const units: GemmCall[][] = [];
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
      units.push(calls);
    }
    return units;
  }
  for (let row = 0, rows = 0; row < m; row += rows) {
    const first = row % queries; // the block's first query position in its group
    rows = Math.min(step, queries - first);
    const visible = past + first + rows; // keys any row of the block sees
    if (mask.masked === 'a') {
      // C(r, j) = sum over keys t < visible (A's later keys are hidden for every row of the block)
      units.push(productCalls(rows, n, Math.min(k, visible), row * aRow, aRow, aCol, 0, n, row * n, n));
      continue;
    }
    // C(r, s) for keys s < visible, in whole vectors of 8; the rest of the rows +0
    const width = Math.min(n, 8 * Math.ceil(visible / 8));
    const calls = productCalls(rows, width, k, row * aRow, aRow, aCol, 0, n, row * n, n);
    if (width < n) calls.push(...productCalls(rows, n - width, 0, 0, aRow, aCol, 0, n, row * n + width, n));
    units.push(calls);
  }
  return units;
}

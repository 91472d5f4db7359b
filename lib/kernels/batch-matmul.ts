import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { PackedWeights } from './packed-weights';
import { TransposeCache } from './transpose-cache';
import { wasmOps, WasmOps } from './wasm-ops';

/**
 * `BatchMatMul` for the wasm backend that sends every product to XNNPACK, through the `shipped` kernel's fast case.
 *
 * tfjs-backend-wasm 4.22 calls XNNPACK's fully-connected operator only when the product is one 2-D
 * `[m, k] x [k, n]` with no transpose flag; everything else (every backward product, attention's batched
 * products, a 3-D activation times a 2-D weight) runs a scalar loop about 10x slower. This kernel rewrites
 * each case into that fast one, using only the wasm backend's own kernels:
 * - a transpose flag becomes an explicit Transpose of the last two axes;
 * - when `b` has no batch (or batch 1), `a`'s batch is folded into rows: `[B*m, k] x [k, n]`;
 * - otherwise the batch is looped: one 2-D product per output batch index (broadcasting batch axes of size 1),
 *   each written into its place in the output;
 * - a few rows times a large transposed matrix (sampling with a tied embedding, logits a chunk of rows at a time)
 *   reuse a cached transposed copy while `packed` keeps every packed copy; under a finite budget no copy is made:
 *   `A B^T` is computed as `(B A^T)^T`, with B read as XNNPACK's left operand as it is and only A^T packed;
 * - a 2-D `A^T B` with fewer rows than columns in its result is computed as `(B^T A)^T`, so that the smaller
 *   operand is the one XNNPACK packs.
 * `transposes` holds those copies; clear it when the kernel is unregistered. `packed` decides whether XNNPACK's
 * packed copy of a persistent right operand (a weight, a cached transpose) is kept after its product.
 */
export function routedBatchMatMulConfig(shipped: tf.KernelConfig, transposes: TransposeCache, packed: PackedWeights): tf.KernelConfig {
  return {
    // The shipped kernel's name, backend and setup (which binds its wasm function; it still runs our 2-D products).
    ...shipped,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
      if (a.dtype !== 'float32' || b.dtype !== 'float32') {
        return shipped.kernelFunc({ inputs, backend, attrs }); // it raises tfjs's own error for these
      }
      const ops = wasmOps(backend as BackendWasm);
      const matMul2d = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo =>
        shipped.kernelFunc({
          inputs: { a: x, b: y }, backend, attrs: { transposeA: false, transposeB: false },
        }) as tf.TensorInfo;
      const useShipped = () => shipped.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
      return routedBatchMatMul(ops, matMul2d, useShipped, transposes, packed, a, b, transposeA, transposeB);
    },
  };
}

/** Swaps the last two axes by a real Transpose (a new TensorInfo). */
function swapLastTwo(ops: WasmOps, x: tf.TensorInfo): tf.TensorInfo {
  const perm = x.shape.map((_, i) => i);
  const rank = perm.length;
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ops.transpose(x, perm);
}

const sizeOf = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

/**
 * Up to this many rows per product, a product whose right operand is a new tensor on every call (a transposed
 * copy, or one matrix of a batch) is left to the shipped loop: XNNPACK packs that operand first (work ~ k*n),
 * which costs more than the loop's m*k*n when m is this small (measured crossover 4-8 rows). Decoding's
 * one-row attention products are the main case.
 */
const SMALL_ROWS = 4;

/** Products with at most this many rows (sampling, not training) use cached transposes of large weights. */
const FEW_ROWS = 64;

/** For an output batch index, the index into an operand whose batch axes broadcast to `outBatch`. */
function operandBatchIndex(outIndex: number, outBatch: number[], operandBatch: number[]): number {
  // Walk the output's batch axes from the last; an operand axis of size 1 (or missing) stays at 0.
  let index = 0;
  let stride = 1;
  let rest = outIndex;
  for (let axis = outBatch.length - 1, op = operandBatch.length - 1; axis >= 0; axis--, op--) {
    const coordinate = rest % outBatch[axis];
    rest = Math.floor(rest / outBatch[axis]);
    if (op >= 0) {
      if (operandBatch[op] !== 1) index += coordinate * stride;
      stride *= operandBatch[op];
    }
  }
  return index;
}

function routedBatchMatMul(
  ops: WasmOps,
  matMul2d: (x: tf.TensorInfo, y: tf.TensorInfo) => tf.TensorInfo,
  useShipped: () => tf.TensorInfo,
  transposes: TransposeCache,
  packed: PackedWeights,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo {
  const [aRows, aCols] = a.shape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const fold = sizeOf(bBatch) === 1 && sizeOf(aBatch) === sizeOf(outBatch);
  const rowsPerProduct = fold ? sizeOf(aBatch) * m : m;
  const sameBatch = sizeOf(aBatch) === sizeOf(bBatch) && aBatch.length === bBatch.length;
  const largeTransposed = transposeB && fold && rowsPerProduct <= FEW_ROWS && transposes.accepts(b);
  const cachedB = largeTransposed && packed.keepsAll;
  if (!largeTransposed && rowsPerProduct <= SMALL_ROWS && (transposeB || !fold) && (fold || sameBatch)) return useShipped();

  const temps: tf.TensorInfo[] = [];
  const keep = (x: tf.TensorInfo) => { temps.push(x); return x; };
  try {
    const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const innerAgrees = b.shape[b.shape.length - 2] === aRows;
    if (transposeA && !transposeB && innerAgrees && sizeOf(aBatch) === 1 && sizeOf(bBatch) === 1 && m < n) {
      // C = A^T B, A [k, m], B [k, n]. XNNPACK packs its right operand first at about 9 ns a value (more than
      // the product's own time per value at k = 2048), and a transpose costs 3-5 ns a value: so when m < n,
      // compute (B^T A)^T, which transposes B and packs A, the smaller. A weight gradient [128, 512] with
      // k = 2048: 29 instead of 36 ms; [512, 128] unswapped: 31 instead of 38 ms (medians of 14).
      const bT = keep(ops.transpose(keep(ops.reshape(b, [aRows, n])), [1, 0]));
      const cT = keep(matMul2d(bT, keep(ops.reshape(a, [aRows, m]))));
      return ops.reshape(keep(ops.transpose(cT, [1, 0])), [...outBatch, m, n]);
    }
    const aPlain = transposeA ? keep(swapLastTwo(ops, a)) : a; // [...batchA, m, k]
    const k = aPlain.shape[aPlain.shape.length - 1];
    const kB = transposeB ? b.shape[b.shape.length - 1] : b.shape[b.shape.length - 2];
    if (k !== kB) {
      throw new Error(`BatchMatMul: inner dimensions differ: a [${a.shape}] (transposeA=${transposeA}) and `
        + `b [${b.shape}] (transposeB=${transposeB})`);
    }
    const outShape = [...outBatch, m, n];
    if (largeTransposed && !cachedB) {
      // C = A B^T as (B A^T)^T: B [n, k] (a tied embedding: 544 MiB at Qwen2.5-0.5B's shape) is neither copied
      // nor packed, only the few rows of A^T [k, rows] are. XNNPACK sums each dot product over k in order either
      // way, so the result is bit-identical to the cached route (tests/kernels/replacements.test.ts).
      const rowsT = keep(ops.transpose(keep(ops.reshape(aPlain, [rowsPerProduct, k])), [1, 0])); // [k, rows]
      const cT = keep(matMul2d(keep(ops.reshape(b, [n, k])), rowsT)); // [n, rows]
      return ops.reshape(keep(ops.transpose(cT, [1, 0])), outShape);
    }
    // [...batchB, k, n]
    const bPlain = cachedB ? transposes.transposed(ops, b) : transposeB ? keep(swapLastTwo(ops, b)) : b;

    if (fold) {
      // One weight matrix for the whole batch: fold a's batch into rows.
      const rows = keep(ops.reshape(aPlain, [sizeOf(aBatch) * m, k]));
      const weight = keep(ops.reshape(bPlain, [k, n]));
      const product = keep(matMul2d(rows, weight));
      if (cachedB || bPlain === b) packed.afterProduct(ops.backend, bPlain);
      return ops.reshape(product, outShape);
    }

    const aStack = keep(ops.reshape(aPlain, [sizeOf(aBatch), m, k]));
    const bStack = keep(ops.reshape(bPlain, [sizeOf(bBatch), k, n]));
    const out = ops.empty([sizeOf(outBatch), m, n]);
    for (let i = 0; i < sizeOf(outBatch); i++) {
      const ai = ops.matrix(aStack, operandBatchIndex(i, outBatch, aBatch));
      const bi = ops.matrix(bStack, operandBatchIndex(i, outBatch, bBatch));
      const product = matMul2d(ai, bi);
      ops.write(out, i * m * n, product);
      [ai, bi, product].forEach(ops.release);
    }
    const shaped = ops.reshape(out, outShape);
    ops.release(out);
    return shaped;
  } finally {
    for (const t of temps) ops.release(t);
  }
}

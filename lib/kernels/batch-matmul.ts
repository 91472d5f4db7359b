import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { PackedWeights } from './packed-weights';
import { causalUnits, checkMask, MASKED_BATCH_MATMUL, type CausalMaskAttrs } from './causal-products';
import { productCalls, sequentialGemm, type GemmCall, type SequentialGemm } from './sequential-gemm';
import { TransposeCache } from './transpose-cache';
import { heapAddress } from './wasm-encoder';
import { productThreads, runProduct } from '../wasm-threads';
import { wasmOps, WasmOps } from './wasm-ops';

/**
 * `BatchMatMul` for the wasm backend that sends every product to a fast path, with XNNPACK's rounding.
 *
 * tfjs-backend-wasm 4.22 calls XNNPACK's fully-connected operator only when the product is one 2-D
 * `[m, k] x [k, n]` with no transpose flag; everything else (every backward product, attention's batched
 * products, a 3-D activation times a 2-D weight) runs a scalar loop about 10x slower. This kernel rewrites
 * each case into a fast one:
 * - one right operand for the whole batch (a weight, `A B` or `A B^T`): `a`'s batch is folded into rows,
 *   `[B*m, k] x [k, n]`, and XNNPACK multiplies, keeping its packed copy of a persistent weight; a transpose
 *   flag on `b` becomes an explicit Transpose;
 * - a few rows times a large transposed matrix (sampling with a tied embedding, logits a chunk of rows at a time)
 *   reuse a cached transposed copy while `packed` keeps every packed copy; under a finite budget no copy is made:
 *   `A B^T` is computed as `(B A^T)^T`, with B read as XNNPACK's left operand as it is and only A^T packed;
 * - a transposed left operand (`A^T B`: weight gradients) or a batch of right operands (attention's per-head
 *   products) go to {@link sequentialGemm}, which reads `A` or `A^T` in place and `B` unpacked and adds the
 *   products in the same order as XNNPACK (bit-identical results), one product per output batch index
 *   (broadcasting batch axes of size 1), shared among the threads of RRL_WASM_THREADS when large; XNNPACK
 *   would need `A^T` copied and every `B` packed anew, which cost as much as the products;
 * - decoding's products of at most SMALL_ROWS rows by a fresh operand keep the shipped loop.
 * `transposes` holds the cached copies; clear it when the kernel is unregistered. `packed` decides whether
 * XNNPACK's packed copy of a persistent right operand (a weight, a cached transpose) is kept after its product.
 */
export function routedBatchMatMulConfig(shipped: tf.KernelConfig, transposes: TransposeCache, packed: PackedWeights): tf.KernelConfig {
  return {
    // The shipped kernel's name, backend and setup (which binds its wasm function; it still runs our 2-D products).
    ...shipped,
    kernelFunc: ({ inputs, backend, attrs }) => routedKernel(shipped, transposes, packed, inputs, backend as BackendWasm, attrs as unknown as tf.BatchMatMulAttrs),
  };
}

/**
 * `MaskedBatchMatMul` on wasm: the routed BatchMatMul of {@link routedBatchMatMulConfig} for one of attention's
 * products, where the sequential product skips what a causal mask hides (see {@link CausalMaskAttrs}); where the
 * product takes another route it is computed in full, which the mask's contract allows.
 */
export function maskedBatchMatMulConfig(shipped: tf.KernelConfig, transposes: TransposeCache, packed: PackedWeights): tf.KernelConfig {
  return {
    kernelName: MASKED_BATCH_MATMUL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => routedKernel(shipped, transposes, packed, inputs, backend as BackendWasm, attrs as unknown as CausalMaskAttrs),
  };
}

function routedKernel(
  shipped: tf.KernelConfig,
  transposes: TransposeCache,
  packed: PackedWeights,
  inputs: tf.NamedTensorInfoMap,
  backend: BackendWasm,
  attrs: tf.BatchMatMulAttrs | CausalMaskAttrs,
): tf.TensorInfo {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs;
  const plainAttrs = { transposeA, transposeB };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    return shipped.kernelFunc({ inputs, backend, attrs: plainAttrs }) as tf.TensorInfo; // it raises tfjs's own error for these
  }
  const ops = wasmOps(backend);
  const matMul2d = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo => runProduct(x.shape[0] * x.shape[1] * y.shape[1], () =>
    shipped.kernelFunc({
      inputs: { a: x, b: y }, backend, attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo);
  const useShipped = () => shipped.kernelFunc({ inputs, backend, attrs: plainAttrs }) as tf.TensorInfo;
  const mask = 'masked' in attrs ? attrs : undefined;
  return routedBatchMatMul(ops, matMul2d, sequentialGemm(backend), useShipped, transposes, packed, a, b, transposeA, transposeB, mask);
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

/** Sequential products of at least this many multiply-adds are shared among threads, when there are threads. */
const SPLIT_MACS = 1 << 20;

/**
 * One product's calls (at offsets from its operands) as units for `threads` threads to take: the whole product
 * when the batch has at least 4 products a thread, else blocks of its rows (multiples of 4), enough for about 4
 * tasks a thread, so that a thread slowed by other work takes fewer of them.
 */
function productBlocks(m: number, n: number, k: number, aRow: number, aCol: number, products: number, threads: number): GemmCall[][] {
  const blocks = Math.max(1, Math.min(Math.ceil((4 * threads) / products), Math.ceil(m / 4)));
  const rowsPerBlock = 4 * Math.ceil(m / (4 * blocks));
  const units: GemmCall[][] = [];
  for (let row = 0; row < m || units.length === 0; row += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, m - row);
    units.push(productCalls(rows, n, k, row * aRow, aRow, aCol, 0, n, row * n, n));
  }
  return units;
}

/** Where a tensor's values start in the heap, as a float32 index. */
const heapIndex = (ops: WasmOps, x: tf.TensorInfo): number => heapAddress(ops.backend, x) / 4;

function routedBatchMatMul(
  ops: WasmOps,
  matMul2d: (x: tf.TensorInfo, y: tf.TensorInfo) => tf.TensorInfo,
  gemm: SequentialGemm,
  useShipped: () => tf.TensorInfo,
  transposes: TransposeCache,
  packed: PackedWeights,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  mask?: CausalMaskAttrs,
): tf.TensorInfo {
  const [aRows, aCols] = a.shape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  const k = transposeA ? aRows : aCols;
  if (mask) checkMask(mask, m, n, k); // on every route, so a bad mask fails the same way whichever one a shape takes
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
      const aPlain = transposeA ? keep(swapLastTwo(ops, a)) : a; // [...batchA, m, k]
      const rowsT = keep(ops.transpose(keep(ops.reshape(aPlain, [rowsPerProduct, k])), [1, 0])); // [k, rows]
      const cT = keep(matMul2d(keep(ops.reshape(b, [n, k])), rowsT)); // [n, rows]
      return ops.reshape(keep(ops.transpose(cT, [1, 0])), outShape);
    }
    if (transposeA || !fold) {
      // Weight gradients (A^T B) and attention's per-head products: the sequential product reads A or A^T in
      // place and B unpacked, where XNNPACK would need A^T copied and B packed anew for every product.
      const bPlain = transposeB ? keep(swapLastTwo(ops, b)) : b; // [...batchB, k, n]
      const out = ops.empty([sizeOf(outBatch), m, n]);
      const [aBase, bBase, outBase] = [a, bPlain, out].map((x) => heapIndex(ops, x));
      // A(i, t) in a stored [m, k] matrix, or in a stored [k, m] one when transposed
      const [aRow, aCol] = transposeA ? [1, m] : [k, 1];
      // The calls for one product, at offsets from its operands, run for every product of the batch. With threads,
      // each takes the next (product, unit) task (attention's heads, or blocks of one product's rows) until none is
      // left: units write disjoint parts of C, and every output's sum over t stays on one thread, in order.
      const products = sizeOf(outBatch);
      const bases = Array.from({ length: products }, (_, i) => [
        aBase + operandBatchIndex(i, outBatch, aBatch) * m * k, bBase + operandBatchIndex(i, outBatch, bBatch) * k * n, outBase + i * m * n,
      ]).flat();
      const fullMacs = products * m * n * k;
      const threads = gemm.parallel && fullMacs >= SPLIT_MACS ? productThreads(fullMacs) : 1;
      const units = mask ? causalUnits(mask, { m, n, k, aRow, aCol }) : productBlocks(m, n, k, aRow, aCol, products, threads);
      gemm.runJob({ units, bases }, threads);
      const shaped = ops.reshape(out, outShape);
      ops.release(out);
      return shaped;
    }
    // [...batchB, k, n]
    const bPlain = cachedB ? transposes.transposed(ops, b) : transposeB ? keep(swapLastTwo(ops, b)) : b;
    // One weight matrix for the whole batch: fold a's batch into rows.
    const rows = keep(ops.reshape(a, [sizeOf(aBatch) * m, k]));
    const weight = keep(ops.reshape(bPlain, [k, n]));
    const product = keep(matMul2d(rows, weight));
    if (cachedB || bPlain === b) packed.afterProduct(ops.backend, bPlain);
    return ops.reshape(product, outShape);
  } finally {
    for (const t of temps) ops.release(t);
  }
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Source rows read together: each pass writes runs of this many consecutive output values. */
const ROWS_A_PASS = 8;

/** Permutations that keep the last axis, with at least this many values on it, copy whole runs of it. */
const MIN_RUN = 16;

/** Whether `perm` swaps the last two axes and keeps every other axis in place. */
function swapsLastTwo(perm: number[]): boolean {
  const rank = perm.length;
  return rank >= 2 && perm[rank - 2] === rank - 1 && perm[rank - 1] === rank - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

/**
 * Writes the transpose of the [rows, cols] matrix at `src[from..]` into `dst[from..]` as [cols, rows]. Eight
 * source rows a pass, so each write run is eight consecutive values and each source row is read in order.
 */
function transposeMatrix(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, from: number, rows: number, cols: number): void {
  let r = 0;
  for (; r + ROWS_A_PASS <= rows; r += ROWS_A_PASS) {
    const s = from + r * cols;
    for (let c = 0; c < cols; c++) {
      const o = from + c * rows + r;
      const i = s + c;
      dst[o] = src[i];
      dst[o + 1] = src[i + cols];
      dst[o + 2] = src[i + 2 * cols];
      dst[o + 3] = src[i + 3 * cols];
      dst[o + 4] = src[i + 4 * cols];
      dst[o + 5] = src[i + 5 * cols];
      dst[o + 6] = src[i + 6 * cols];
      dst[o + 7] = src[i + 7 * cols];
    }
  }
  for (; r < rows; r++) {
    for (let c = 0; c < cols; c++) dst[from + c * rows + r] = src[from + r * cols + c];
  }
}

/**
 * The transpose of x by a `perm` that keeps the last axis in place, as copies of its runs in the heap: for each index
 * of the output's leading axes but one (an odometer), one `copyRuns` call over that one, the output axis with most
 * indices (attention's heads: [B, T, H, h] <-> [B, H, T, h], 64 calls of 128 runs at S's shape).
 */
function transposeRuns(backend: BackendWasm, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  const rank = perm.length;
  const outShape = perm.map((p) => x.shape[p]);
  const out = backend.makeOutput(outShape, x.dtype);
  const bytes = 4;
  const run = x.shape[rank - 1];
  const sourceStrides = tf.util.computeStrides(x.shape).concat(1).map((stride) => bytes * stride);
  const targetStrides = tf.util.computeStrides(outShape).concat(1).map((stride) => bytes * stride);
  const leading = outShape.slice(0, -1);
  const along = leading.indexOf(Math.max(...leading));
  const [source, target] = [heapAddress(backend, x), heapAddress(backend, out)];
  const loops = heapLoops(backend);
  const index = leading.map(() => 0);
  for (let call = 0; call < tf.util.sizeFromShape(leading) / leading[along]; call++) {
    let [from, to] = [source, target];
    for (let axis = 0; axis < leading.length; axis++) {
      from += index[axis] * sourceStrides[perm[axis]];
      to += index[axis] * targetStrides[axis];
    }
    loops.copyRuns(from, sourceStrides[perm[along]], to, targetStrides[along], bytes * run, leading[along]);
    // the next index of every leading axis but `along`
    for (let axis = leading.length - 1; axis >= 0; axis--) {
      if (axis === along) continue;
      if (++index[axis] < leading[axis]) break;
      index[axis] = 0;
    }
  }
  return out;
}

/**
 * `Transpose` for the wasm backend with a fast case for swapping the last two axes of a float32 or int32 tensor
 * (every batch of matrices transposed in place order): the routed BatchMatMul's explicit transposes (weight
 * gradients, attention's P^T) and attention's heads. The shipped kernel writes one value per source value in
 * a strided loop (about 6 ns a value at [2048, 512]); here eight source rows are read per pass and written as
 * runs of eight (about 3 ns a value). A permutation that keeps a last axis of at least MIN_RUN values copies its
 * runs (see {@link transposeRuns}); every other permutation goes to `shipped`.
 */
export function heapTransposeConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { perm } = args.attrs as unknown as tf.TransposeAttrs;
      if (x.dtype !== 'float32' && x.dtype !== 'int32') return shipped.kernelFunc(args);
      const backend = args.backend as BackendWasm;
      const rank = perm.length;
      if (rank >= 2 && perm[rank - 1] === rank - 1 && x.shape[rank - 1] >= MIN_RUN && tf.util.sizeFromShape(x.shape) > 0) return transposeRuns(backend, x, perm);
      if (!swapsLastTwo(perm)) return shipped.kernelFunc(args);
      const [rows, cols] = x.shape.slice(-2);
      const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
      const src = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
      const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
      const size = rows * cols;
      for (let from = 0; from < src.length; from += size) transposeMatrix(src, dst, from, rows, cols);
      return out;
    },
  };
}

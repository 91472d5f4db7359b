import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Source rows read together: each pass writes runs of this many consecutive output values. */
const ROWS_A_PASS = 8;

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
 * `Transpose` for the wasm backend with a fast case for swapping the last two axes of a float32 or int32 tensor
 * (every batch of matrices transposed in place order): the routed BatchMatMul's explicit transposes (weight
 * gradients, attention's P^T) and attention's heads. The shipped kernel writes one value per source value in
 * a strided loop (about 6 ns a value at [2048, 512]); here eight source rows are read per pass and written as
 * runs of eight (about 3 ns a value). Every other permutation goes to `shipped`.
 */
export function heapTransposeConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { perm } = args.attrs as unknown as tf.TransposeAttrs;
      if (!swapsLastTwo(perm) || (x.dtype !== 'float32' && x.dtype !== 'int32')) return shipped.kernelFunc(args);
      const backend = args.backend as BackendWasm;
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

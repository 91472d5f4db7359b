import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Whether `perm` swaps the last two axes and keeps every other axis in place. */
function swapsLastTwo(perm: number[]): boolean {
  const rank = perm.length;
  return rank >= 2 && perm[rank - 2] === rank - 1 && perm[rank - 1] === rank - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

/**
 * `Transpose` for the wasm backend with a fast case for swapping the last two axes of a float32 or int32 tensor
 * (every batch of matrices transposed in place order): the routed BatchMatMul's explicit transposes (a
 * transposed right operand: attention's k^T and v^T, a weight's W^T in dy W^T). The shipped kernel writes one value
 * per source value in a strided loop (about 6 ns a value at [2048, 512]); here a wasm loop reads four source rows
 * a pass and writes each column of them as one 4-value store (`transposeMatrices`). Every other permutation goes
 * to `shipped`.
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
      const matrices = rows * cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / (rows * cols);
      heapLoops(backend).transposeMatrices(heapAddress(backend, x), heapAddress(backend, out), rows, cols, matrices);
      return out;
    },
  };
}

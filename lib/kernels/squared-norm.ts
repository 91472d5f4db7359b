import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Name of the one-kernel sum of squares over a list of tensors (no gradient: gradient clipping's norm). */
export const SQUARED_NORM = 'SquaredNorm';

/**
 * `SquaredNorm` on wasm: sum_i ||x_i||^2 over its inputs `x0`, `x1`, ... (float32, any shapes) as a float32 scalar,
 * rounded as the ops it replaces, `tf.addN(xs.map((x) => tf.sum(tf.square(x))))`: each tensor's squares summed
 * from +0 in order in float32 (wasm's Sum), then those sums added in input order in float32 (AddN). One kernel
 * instead of 2n + 1 for gradient clipping's global norm over n parameters.
 */
export function squaredNormConfig(): tf.KernelConfig {
  return {
    kernelName: SQUARED_NORM,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend }) => {
      const backend = anyBackend as BackendWasm;
      const xs = Array.from({ length: Object.keys(inputs).length }, (_, i) => inputs[`x${i}`]);
      const missing = xs.findIndex((x) => x === undefined);
      if (missing >= 0) throw new Error(`SquaredNorm: inputs must be named x0 .. x${xs.length - 1}; x${missing} is missing`);
      const sums = backend.makeOutput([xs.length], 'float32');
      const loops = heapLoops(backend);
      const sumsAt = heapAddress(backend, sums);
      xs.forEach((x, i) => loops.sumOfSquares(heapAddress(backend, x!), tf.util.sizeFromShape(x!.shape), sumsAt + 4 * i));
      const perTensor = backend.typedArrayFromHeap(sums) as Float32Array;
      let total = 0;
      for (const s of perTensor) total = Math.fround(total + s);
      backend.disposeData(sums.dataId);
      const out = backend.makeOutput([], 'float32');
      (backend.typedArrayFromHeap(out) as Float32Array)[0] = total;
      return out;
    },
  };
}

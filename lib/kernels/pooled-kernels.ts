import type * as tf from '@tensorflow/tfjs';
import { runExpKernel, runProduct } from '../wasm-threads';

/**
 * `_FusedMatMul` for the wasm backend: the shipped kernel (XNNPACK), run on XNNPACK's whole thread pool when the
 * product is large even while decoding limits the pool to one thread (see `runProduct`); the same results.
 */
export function pooledFusedMatMulConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
      const outputs = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
      const macs = a.shape.reduce((p, d) => p * d, 1) * outputs;
      return runProduct(macs, () => shipped.kernelFunc(args));
    },
  };
}

/**
 * `Softmax` and `Sigmoid` for the wasm backend: the shipped kernels (XNNPACK), run on XNNPACK's whole thread pool
 * when their input is large, also inside a training step's `trainingKernels` (see `runExpKernel`); the same results
 * (each value, or each softmax row, is computed by one thread).
 */
export function pooledExpKernelConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { logits, x } = args.inputs as { logits?: tf.TensorInfo; x?: tf.TensorInfo };
      const input = (logits ?? x)!;
      return runExpKernel(input.shape.reduce((p, d) => p * d, 1), () => shipped.kernelFunc(args));
    },
  };
}

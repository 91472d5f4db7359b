import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The wasm backend's operations that the project's kernels build on: its own kernels, called through
 * `tf.getKernel(name, 'wasm').kernelFunc`, and copies through the public `BackendWasm` methods
 * `makeOutput` / `typedArrayFromHeap`. Every returned TensorInfo belongs to the caller, who releases it.
 */
export interface WasmOps {
  backend: BackendWasm;
  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo;
  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo;
  /**
   * Matrix `index` of a `[batch, rows, cols]` stack as a new `[rows, cols]` tensor. (wasm's Slice kernel first
   * copies its whole input out of the heap, which makes a loop of slices quadratic in the batch.)
   */
  matrix(stack: tf.TensorInfo, index: number): tf.TensorInfo;
  /** A new float32 tensor whose values are to be written with `write`. */
  empty(shape: number[]): tf.TensorInfo;
  /** Copies all of `src`'s values into `dst`, starting at element `offset`. */
  write(dst: tf.TensorInfo, offset: number, src: tf.TensorInfo): void;
  /** Releases a TensorInfo made by one of the calls above. */
  release(x: tf.TensorInfo): void;
}

/** Looks up a kernel registered for wasm, with an error naming it when it is missing. */
export function wasmKernel(name: string): tf.KernelConfig {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) {
    throw new Error(`kernel '${name}' is not registered for the wasm backend (is @tensorflow/tfjs-backend-wasm loaded?)`);
  }
  return kernel;
}

/** Binds the wasm kernels that the project's kernels build on to one backend instance. */
export function wasmOps(backend: BackendWasm): WasmOps {
  const run = (name: string) => {
    const kernelFunc = wasmKernel(name).kernelFunc;
    return (inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) =>
      kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
  };
  const reshape = run('Reshape');
  const transpose = run('Transpose');
  const empty = (shape: number[]) => backend.makeOutput(shape, 'float32');
  return {
    backend,
    reshape: (x, shape) => reshape({ x }, { shape }),
    transpose: (x, perm) => transpose({ x }, { perm }),
    matrix: (stack, index) => {
      const [, rows, cols] = stack.shape;
      const out = empty([rows, cols]);
      const start = index * rows * cols;
      backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(stack).subarray(start, start + rows * cols));
      return out;
    },
    empty,
    write: (dst, offset, src) => { backend.typedArrayFromHeap(dst).set(backend.typedArrayFromHeap(src), offset); },
    release: (x) => { backend.disposeData(x.dataId); },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Runs shorter than this many values are left to the shipped kernels (a `set` call per run would cost more). */
const MIN_RUN = 16;

/**
 * The block `begin .. begin + size` of x as a new tensor, copied run by run between views of the wasm heap;
 * undefined when the contiguous runs are shorter than MIN_RUN or x holds strings. A run spans the first axis
 * that is cut and every full axis after it.
 */
function sliceFromHeap(backend: BackendWasm, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo | undefined {
  const rank = x.shape.length;
  if (x.dtype === 'string' || rank === 0) return undefined;
  const strides = tf.util.computeStrides(x.shape).concat(1);
  let cut = rank - 1; // the outermost axis of the contiguous run
  while (cut > 0 && begin[cut] === 0 && size[cut] === x.shape[cut]) cut--;
  const run = size[cut] * strides[cut];
  if (run < MIN_RUN && tf.util.sizeFromShape(size) > run) return undefined;
  const out = backend.makeOutput([...size], x.dtype);
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const outer = size.slice(0, cut);
  const index = outer.map(() => 0); // odometer over the axes before `cut`
  const runs = tf.util.sizeFromShape(outer);
  for (let r = 0; r < runs; r++) {
    let offset = begin[cut] * strides[cut];
    for (let axis = 0; axis < cut; axis++) offset += (begin[axis] + index[axis]) * strides[axis];
    target.set(source.subarray(offset, offset + run), r * run);
    for (let axis = cut - 1; axis >= 0 && ++index[axis] === outer[axis]; axis--) index[axis] = 0;
  }
  return out;
}

/**
 * `Slice` for the wasm backend that copies from the heap directly: the shipped kernel first reads the whole
 * input out of the heap (`readSync`, a full copy) and then copies element by element in JS. Falls back to
 * `shipped` for strings and short runs.
 */
export function heapSliceConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
      const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
      return sliceFromHeap(args.backend as BackendWasm, x, begin_, size_) ?? shipped.kernelFunc(args);
    },
  };
}

/**
 * `SplitV` for the wasm backend on the same heap copies: the shipped kernel reads the whole input once per
 * piece (q, k and v out of the fused projection are three pieces). Falls back to `shipped` as `Slice` does.
 */
export function heapSplitConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
      const backend = args.backend as BackendWasm;
      const splitAxis = tf.util.parseAxisParam(axis, x.shape)[0];
      const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, splitAxis);
      const begin = x.shape.map(() => 0);
      const pieces: tf.TensorInfo[] = [];
      for (const pieceSize of sizes) {
        const size = [...x.shape];
        size[splitAxis] = pieceSize;
        const piece = sliceFromHeap(backend, x, [...begin], size);
        if (!piece) {
          for (const made of pieces) backend.disposeData(made.dataId);
          return shipped.kernelFunc(args);
        }
        pieces.push(piece);
        begin[splitAxis] += pieceSize;
      }
      return pieces;
    },
  };
}

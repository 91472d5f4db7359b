import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Runs shorter than this many values are left to the shipped kernels. */
const MIN_RUN = 16;

/** Bytes a value of a tensor takes in the heap. */
const bytesPerValue = (backend: BackendWasm, x: tf.TensorInfo): number => backend.typedArrayFromHeap(x).BYTES_PER_ELEMENT;

/**
 * The block `begin .. begin + size` of x as a new tensor, copied run by run in the heap (`copyRuns`, a
 * memory.copy per run); undefined when the contiguous runs are shorter than MIN_RUN or x holds strings. A run
 * spans the first axis that is cut and every full axis after it; the runs along the axis before it are one call.
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
  const bytes = bytesPerValue(backend, x);
  const [source, target] = [heapAddress(backend, x), heapAddress(backend, out)];
  const loops = heapLoops(backend);
  // One copyRuns call per index of the axes before `cut - 1` (an odometer), each over the runs along `cut - 1`.
  const along = cut > 0 ? cut - 1 : -1;
  const runs = along >= 0 ? size[along] : 1;
  const outer = size.slice(0, Math.max(along, 0));
  const index = outer.map(() => 0);
  const calls = tf.util.sizeFromShape(outer);
  for (let call = 0; call < calls; call++) {
    let offset = begin[cut] * strides[cut];
    for (let axis = 0; axis < outer.length; axis++) offset += (begin[axis] + index[axis]) * strides[axis];
    if (along >= 0) offset += begin[along] * strides[along];
    loops.copyRuns(source + bytes * offset, bytes * (along >= 0 ? strides[along] : 0), target + bytes * call * runs * run, bytes * run, bytes * run, runs);
    for (let axis = outer.length - 1; axis >= 0 && ++index[axis] === outer[axis]; axis--) index[axis] = 0;
  }
  return out;
}

/**
 * `Slice` for the wasm backend that copies in the heap directly: the shipped kernel first reads the whole
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

/**
 * `Concat` for the wasm backend by copies in the heap: each input's rows (the axes before `axis` flattened) go
 * to their place in the output's rows with one `copyRuns` call per input, where the shipped kernel makes a JS
 * subarray and `set` call per row and input (the gradient of splitting q, k and v: 2048 rows x 3 inputs). Strings
 * go to `shipped`.
 */
export function heapConcatConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const backend = args.backend as BackendWasm;
      if (inputs.length < 2 || inputs[0].dtype === 'string') return shipped.kernelFunc(args);
      const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, inputs[0].shape)[0];
      tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
      const out = backend.makeOutput(tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis), inputs[0].dtype);
      const rows = tf.util.sizeFromShape(out.shape.slice(0, axis));
      const outRow = tf.util.sizeFromShape(out.shape.slice(axis));
      const nonEmpty = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
      if (nonEmpty.length === 0) return out;
      const bytes = bytesPerValue(backend, nonEmpty[0]);
      const loops = heapLoops(backend);
      let column = 0;
      for (const input of nonEmpty) {
        const inRow = tf.util.sizeFromShape(input.shape.slice(axis));
        loops.copyRuns(heapAddress(backend, input), bytes * inRow, heapAddress(backend, out) + bytes * column, bytes * outRow, bytes * inRow, rows);
        column += inRow;
      }
      return out;
    },
  };
}

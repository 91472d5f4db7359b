import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * `GatherV2` for the wasm backend with a fast case for rows of a table (axis 0, no batch dims): each index
 * copies one contiguous row with `TypedArray.set`. The shipped kernel computes every element's source index
 * (about 19 ms for 2048 rows of 128 floats, against 0.3 ms here); an embedding lookup is that case. Every other
 * case goes to `shipped`. An index outside the table is an Error naming it, as on the cpu backend.
 */
export function gatherRowsConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
      const rowsAxis = x.shape.length > 0 && tf.util.parseAxisParam(axis, x.shape)[0] === 0;
      if (!rowsAxis || batchDims !== 0 || indices.dtype !== 'int32' || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
        return shipped.kernelFunc(args);
      }
      const backend = args.backend as BackendWasm;
      const [tableRows, ...rowShape] = x.shape;
      const rowSize = rowShape.reduce((p, d) => p * d, 1);
      const out = backend.makeOutput([...indices.shape, ...rowShape], x.dtype);
      // Views after makeOutput: an allocation may grow the heap and detach older views.
      const table = backend.typedArrayFromHeap(x);
      const ids = backend.typedArrayFromHeap(indices);
      const values = backend.typedArrayFromHeap(out);
      for (let i = 0; i < ids.length; i++) {
        const row = ids[i];
        if (!(row >= 0 && row < tableRows)) {
          backend.disposeData(out.dataId);
          throw new Error(`GatherV2: the index value ${row} is not in [0, ${tableRows - 1}]`);
        }
        values.set(table.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
      }
      return out;
    },
  };
}

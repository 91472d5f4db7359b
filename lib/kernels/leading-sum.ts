import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops, withFloat64Sums } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/**
 * `Sum` for the wasm backend with a fast case for reducing leading axes of a float32 tensor (x [R, C] -> [C]
 * after flattening): a bias or norm gain's gradient, which sums a [B*T, d] gradient over its rows. The shipped
 * kernel first transposes the reduced axes to the end (a full copy at about 1 GB/s); here rows are added in
 * order into float64 sums, four rows a pass, `(x0 + x1) + (x2 + x3)` ({@link heapLoops}' `columnSums`; in JS
 * at [2048, 512]: 1.6 ms, against 3.6 ms one row a pass and 8.5 ms for the shipped kernel).
 * (A product ones[1, R] x [R, C] is slower still: XNNPACK packs its right operand first, about 8 ns a value.)
 * Every other case goes to `shipped`.
 */
export function leadingSumConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
      const rank = x.shape.length;
      const axes = rank === 0 ? [] : tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
      if (!leading || x.dtype !== 'float32') return shipped.kernelFunc(args);
      const backend = args.backend as BackendWasm;
      const kept = x.shape.slice(axes.length);
      const columns = kept.reduce((p, d) => p * d, 1);
      const rows = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
      const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
      withFloat64Sums(backend, columns, (sums) => heapLoops(backend).columnSums(heapAddress(backend, x), rows, columns, sums, heapAddress(backend, out)));
      return out;
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Name of the one-kernel LayerNorm / RMSNorm over the last axis (forward only: for decoding). */
export const ROW_NORM = 'RowNorm';

/** Attributes of {@link ROW_NORM}: `center` true is LayerNorm, false is RMSNorm. */
export interface RowNormAttrs { eps: number; center: boolean }

/**
 * `RowNorm` on wasm: each row of x [rows, d] normalised in one pass over the heap, in float64:
 * LayerNorm (x - mean) / sqrt(var + eps) * gain + bias, or RMSNorm x / sqrt(mean(x^2) + eps) * gain. The same
 * as the composite ops up to float32 rounding, as one kernel instead of nine: a decoding step's norms were
 * about a third of its kernel calls, each costing more in dispatch than in arithmetic.
 */
export function rowNormConfig(): tf.KernelConfig {
  return {
    kernelName: ROW_NORM,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { x, gain, bias } = inputs as { x: tf.TensorInfo; gain: tf.TensorInfo; bias?: tf.TensorInfo };
      const { eps, center } = attrs as unknown as RowNormAttrs;
      const width = x.shape[x.shape.length - 1];
      const out = backend.makeOutput([...x.shape], 'float32');
      const values = backend.typedArrayFromHeap(x) as Float32Array;
      const g = backend.typedArrayFromHeap(gain) as Float32Array;
      const b = bias ? (backend.typedArrayFromHeap(bias) as Float32Array) : undefined;
      const result = backend.typedArrayFromHeap(out) as Float32Array;
      for (let start = 0; start < values.length; start += width) {
        let mean = 0;
        if (center) {
          for (let i = start; i < start + width; i++) mean += values[i];
          mean /= width;
        }
        let squares = 0;
        for (let i = start; i < start + width; i++) squares += (values[i] - mean) ** 2;
        const scale = 1 / Math.sqrt(squares / width + eps);
        for (let c = 0; c < width; c++) {
          result[start + c] = (values[start + c] - mean) * scale * g[c] + (b ? b[c] : 0);
        }
      }
      return out;
    },
  };
}

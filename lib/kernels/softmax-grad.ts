import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Name of the one-kernel gradient of a softmax over the last axis (see {@link softmaxGradConfig}). */
export const SOFTMAX_GRAD = 'SoftmaxGrad';

/**
 * `SoftmaxGrad` on wasm: dx = dy y - sum(dy y) y along the last axis, from dy and the softmax's output y (same
 * shapes), with the rounding of tfjs's own gradient of Softmax (`sub(p, mul(sum(p, -1), y))`, p = `mul(dy, y)`):
 * float32 products, the row's sum from +0 in order. One kernel instead of four over [B, H, T, S] (attention).
 */
export function softmaxGradConfig(): tf.KernelConfig {
  return {
    kernelName: SOFTMAX_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend }) => {
      const backend = anyBackend as BackendWasm;
      const { dy, y } = inputs as Record<'dy' | 'y', tf.TensorInfo>;
      if (dy.shape.join(',') !== y.shape.join(',') || y.shape.length === 0) {
        throw new Error(`SoftmaxGrad: dy [${dy.shape}] and y [${y.shape}] must have the same shape, of rank 1 or more`);
      }
      const width = y.shape[y.shape.length - 1];
      const out = backend.makeOutput([...y.shape], 'float32');
      const rows = width === 0 ? 0 : tf.util.sizeFromShape(y.shape) / width;
      heapLoops(backend).softmaxGrad(heapAddress(backend, dy), heapAddress(backend, y), heapAddress(backend, out), rows, width);
      return out;
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Name of the one-kernel tanh-GELU (forward only: for decoding). */
export const GELU_TANH = 'GeluTanh';

const C = Math.sqrt(2 / Math.PI);

/**
 * `GeluTanh` on wasm: x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), GPT-2's tanh-GELU, element by element in
 * float64 over the heap: one kernel instead of six in each decoding step's MLP.
 */
export function geluTanhConfig(): tf.KernelConfig {
  return {
    kernelName: GELU_TANH,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend }) => {
      const backend = anyBackend as BackendWasm;
      const { x } = inputs as { x: tf.TensorInfo };
      const out = backend.makeOutput([...x.shape], 'float32');
      const values = backend.typedArrayFromHeap(x) as Float32Array;
      const result = backend.typedArrayFromHeap(out) as Float32Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        result[i] = v / (1 + Math.exp(-2 * C * (v + 0.044715 * v * v * v)));
      }
      return out;
    },
  };
}

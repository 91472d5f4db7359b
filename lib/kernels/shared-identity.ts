import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * `Identity` for the wasm backend that shares the input's buffer (one more reference) instead of copying it,
 * as the cpu backend's Identity and wasm's own Reshape do; tfjs never writes into a tensor's buffer after it
 * is made. tfjs runs Identity on every tensor it saves for the backward pass, so the shipped copying kernel
 * cost about 7% of a training step.
 */
export function sharedIdentityConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: 'Identity',
    backendName: 'wasm',
    setupFunc: shipped.setupFunc,
    kernelFunc: ({ inputs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return shipped.kernelFunc({ inputs, backend, attrs: {} });
      (backend as BackendWasm).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  };
}

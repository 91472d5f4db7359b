import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** A new TensorInfo on `x`'s buffer (one more reference to it); tfjs never writes into a buffer once made. */
function share(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * `Identity` for the wasm backend that shares the input's buffer instead of copying it, as the cpu backend's
 * Identity and wasm's own Reshape do. tfjs runs Identity on every tensor it saves for the backward pass, so
 * the shipped copying kernel cost about 7% of a training step.
 */
export function sharedIdentityConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: ({ inputs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return shipped.kernelFunc({ inputs, backend, attrs: {} });
      return share(backend as BackendWasm, x);
    },
  };
}

/**
 * `Cast` for the wasm backend that shares the buffer when the dtype does not change (the gradients of square
 * and pow cast their float32 input to float32: about 1.5% of a training step spent copying); other casts go
 * to `shipped`.
 */
export function sharedCastConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { dtype } = args.attrs as unknown as tf.CastAttrs;
      if (x.dtype !== dtype || dtype === 'string') return shipped.kernelFunc(args);
      return share(args.backend as BackendWasm, x);
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Name of the one-kernel gradient of the tanh-GELU (see {@link geluTanhGradConfig}). */
export const GELU_TANH_GRAD = 'GeluTanhGrad';

/** sqrt(2 / pi), the scale of the tanh-GELU's argument u = c (x + a x^3). */
export const GELU_C = Math.sqrt(2 / Math.PI);
/** The cubic coefficient a of the tanh-GELU's argument u = c (x + a x^3). */
export const GELU_A = 0.044715;

/**
 * `GeluTanhGrad` on wasm: dx = dy * gelu'(x) for the tanh-GELU y = x s, s = sigmoid(2u), u = c (x + a x^3)
 * (0.5 (1 + tanh u) = sigmoid(2u)), from x, the forward pass's s and dy, element by element in float64:
 * gelu'(x) = s + x s (1 - s) 2c (1 + 3a x^2) (since d sigmoid(z)/dz = s (1 - s) and d(2u)/dx = 2c (1 + 3a x^2)).
 * One kernel without exp instead of the automatic gradient's ten-odd kernels over [rows, 4d], run by
 * {@link heapLoops} (the formula as written, left to right).
 */
export function geluTanhGradConfig(): tf.KernelConfig {
  return {
    kernelName: GELU_TANH_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend }) => {
      const backend = anyBackend as BackendWasm;
      const { x, s, dy } = inputs as Record<'x' | 's' | 'dy', tf.TensorInfo>;
      if ([s, dy].some((t) => t.shape.join(',') !== x.shape.join(','))) {
        throw new Error(`GeluTanhGrad: x [${x.shape}], s [${s.shape}] and dy [${dy.shape}] differ in shape`);
      }
      const out = backend.makeOutput([...x.shape], 'float32');
      const [xAt, sAt, dyAt, dxAt] = [x, s, dy, out].map((t) => heapAddress(backend, t));
      heapLoops(backend).geluTanhGrad(xAt, sAt, dyAt, dxAt, tf.util.sizeFromShape(x.shape), 2 * GELU_C, 3 * GELU_A);
      return out;
    },
  };
}

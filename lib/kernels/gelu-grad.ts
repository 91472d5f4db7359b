import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Name of the one-kernel gradient of the tanh-GELU (see {@link geluTanhGradConfig}). */
export const GELU_TANH_GRAD = 'GeluTanhGrad';

/** Name of the one-kernel argument 2u of the tanh-GELU's sigmoid (see {@link geluArgumentConfig}). */
export const GELU_ARGUMENT = 'GeluArgument';

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

/**
 * `GeluArgument` on wasm: 2u = x (2c + 2ac x^2), the argument of the tanh-GELU's sigmoid, with the rounding of the
 * tf ops it replaces (`mul(x, add(2c, mul(2ac, square(x))))`, each a float32 operation, 2c and 2ac float32
 * constants): one pass over x instead of four kernels and three intermediates over [rows, 4d].
 */
export function geluArgumentConfig(): tf.KernelConfig {
  return {
    kernelName: GELU_ARGUMENT,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend }) => {
      const backend = anyBackend as BackendWasm;
      const { x } = inputs as { x: tf.TensorInfo };
      if (x.dtype !== 'float32') throw new Error(`GeluArgument: x is ${x.dtype}, not float32`);
      const out = backend.makeOutput([...x.shape], 'float32');
      heapLoops(backend).geluArgument(heapAddress(backend, x), heapAddress(backend, out), tf.util.sizeFromShape(x.shape), 2 * GELU_C, 2 * GELU_A * GELU_C);
      return out;
    },
  };
}

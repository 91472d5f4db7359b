import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CHUNK, Scratch } from './scratch';

/** Name of the one-kernel gradient of the tanh-GELU (see {@link geluTanhGradConfig}). */
export const GELU_TANH_GRAD = 'GeluTanhGrad';

/** sqrt(2 / pi), the scale of the tanh-GELU's argument u = c (x + a x^3). */
export const GELU_C = Math.sqrt(2 / Math.PI);
/** The cubic coefficient a of the tanh-GELU's argument u = c (x + a x^3). */
export const GELU_A = 0.044715;

/** The scratch arrays the kernel computes in: x, s, dy and dx chunks. */
const scratch = new Scratch(4);

/**
 * `GeluTanhGrad` on wasm: dx = dy * gelu'(x) for the tanh-GELU y = x s, s = sigmoid(2u), u = c (x + a x^3)
 * (0.5 (1 + tanh u) = sigmoid(2u)), from x, the forward pass's s and dy, element by element in float64:
 * gelu'(x) = s + x s (1 - s) 2c (1 + 3a x^2) (since d sigmoid(z)/dz = s (1 - s) and d(2u)/dx = 2c (1 + 3a x^2)).
 * One kernel without exp instead of the automatic gradient's ten-odd kernels over [rows, 4d].
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
      const [values, sig, up] = [x, s, dy].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
      const dx = backend.typedArrayFromHeap(out) as Float32Array;
      const slope = 2 * GELU_C;
      const cubic = 3 * GELU_A;
      const [scratchX, scratchS, scratchDy, scratchDx] = scratch.get(CHUNK);
      for (let start = 0; start < values.length; start += CHUNK) {
        const end = Math.min(start + CHUNK, values.length);
        scratchX.set(values.subarray(start, end));
        scratchS.set(sig.subarray(start, end));
        scratchDy.set(up.subarray(start, end));
        for (let i = 0; i < end - start; i++) {
          const xi = scratchX[i];
          const si = scratchS[i];
          scratchDx[i] = scratchDy[i] * (si + xi * si * (1 - si) * slope * (1 + cubic * xi * xi));
        }
        dx.set(scratchDx.subarray(0, end - start), start);
      }
      return out;
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops } from './heap-loops';
import { heapAddress } from './wasm-encoder';

/** Name of the one-kernel AdamW update of one parameter (no gradient: an optimizer step). */
export const ADAMW_STEP = 'AdamWStep';

/**
 * Attributes of {@link ADAMW_STEP}: the gradient's scale (the clipping factor; a float32 value, 1 for none), learning
 * rate, the moment decay rates, epsilon, the decoupled weight decay (0 for parameters that do not decay) and the
 * bias corrections 1 - beta1^t and 1 - beta2^t.
 */
export interface AdamWStepAttrs {
  gradScale: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  correction1: number;
  correction2: number;
}

/**
 * `AdamWStep` on wasm: from p, m, v and the gradient g (same shapes) returns [p', m', v'] in one pass over the
 * heap, element by element in float64 (Loshchilov & Hutter, 2019, Algorithm 2) from the scaled gradient
 * g' = gradScale g (rounded to float32, as tf.mul would):
 * m' = b1 m + (1 - b1) g', v' = b2 v + (1 - b2) g'^2, p' = p - lr (m' / c1 / (sqrt(v' / c2) + eps) + wd p).
 * One kernel instead of about fourteen per parameter, run by {@link heapLoops}.
 */
export function adamwStepConfig(): tf.KernelConfig {
  return {
    kernelName: ADAMW_STEP,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { p, m, v, g } = inputs as Record<'p' | 'm' | 'v' | 'g', tf.TensorInfo>;
      const { gradScale, lr, beta1, beta2, eps, weightDecay, correction1, correction2 } = attrs as unknown as AdamWStepAttrs;
      const size = tf.util.sizeFromShape(p.shape);
      const bad = (['m', 'v', 'g'] as const).find((name) => tf.util.sizeFromShape(inputs[name]!.shape) !== size);
      if (bad) throw new Error(`AdamWStep: input "${bad}" has shape [${inputs[bad]!.shape}] but p has [${p.shape}]`);
      const outputs = [p, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
      const [pAt, mAt, vAt, gAt, pOut, mOut, vOut] = [p, m, v, g, ...outputs].map((t) => heapAddress(backend, t));
      heapLoops(backend).adamwStep(pAt, mAt, vAt, gAt, pOut, mOut, vOut, size, gradScale,
        lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, correction1, correction2);
      return outputs;
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmKernel } from './wasm-ops';

/** Exponents computed by repeated multiplication; others go to the shipped kernel. */
const SMALL_EXPONENTS = new Set([1, 2, 3, 4]);

/**
 * `Pow` for the wasm backend with a fast case for `x ** n`, n a scalar 1-4: wasm's Pow calls the general
 * `pow()` per element (about 40x slower than a multiply), and GPT-2's tanh-GELU computes x^3 forward and x^2
 * in its gradient on every MLP activation (12% of a training step). Products are exact for n <= 2 and within
 * an ulp or two otherwise; every other case (tensor exponents, non-float32, other values) uses `shipped`.
 */
export function integerPowConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const backend = args.backend as BackendWasm;
      const exponent = b.shape.length === 0 && a.dtype === 'float32' ? backend.readSync(b.dataId)[0] as number : NaN;
      if (!SMALL_EXPONENTS.has(exponent)) return shipped.kernelFunc(args);
      const multiply = wasmKernel('Multiply').kernelFunc;
      const times = (x: tf.TensorInfo, y: tf.TensorInfo) => multiply({ inputs: { a: x, b: y }, backend, attrs: {} }) as tf.TensorInfo;
      if (exponent === 1) return wasmKernel('Identity').kernelFunc({ inputs: { x: a }, backend, attrs: {} });
      // x^n = x * x * ... * x, releasing each intermediate.
      let result = times(a, a);
      for (let i = 2; i < exponent; i++) {
        const next = times(result, a);
        backend.disposeData(result.dataId);
        result = next;
      }
      return result;
    },
  };
}

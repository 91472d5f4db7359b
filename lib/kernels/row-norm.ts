import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapLoops, withFloat64Sums } from './heap-loops';
import { heapAddress } from './wasm-encoder';

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

/** Name of the one-kernel LayerNorm / RMSNorm of training's forward pass (see {@link rowNormForwardConfig}). */
export const ROW_NORM_FORWARD = 'RowNormForward';

/**
 * `RowNormForward` on wasm: the forward pass of a norm whose gradient is `RowNormGrad`, for rows of x [N, d]:
 * outputs [y, xhat [N, d], rstd [N, 1]] with the rounding of the model's composite ops (float32: mean as the row's
 * sum from +0 in order over d, x - mean, the mean of the squares likewise, + eps, 1 / sqrt, xhat = (x - mean)
 * rstd, y = xhat gain (+ bias)), which wasm's Mean, Sub, Square, Add, Rsqrt and Mul kernels give: one kernel, run
 * by {@link heapLoops}, instead of eight over [N, d] (`RowNorm`, for decoding, computes in float64 instead).
 */
export function rowNormForwardConfig(): tf.KernelConfig {
  return {
    kernelName: ROW_NORM_FORWARD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { x, gain, bias } = inputs as { x: tf.TensorInfo; gain: tf.TensorInfo; bias?: tf.TensorInfo };
      const { eps, center } = attrs as unknown as RowNormAttrs;
      const width = gain.shape[0];
      if (x.shape[x.shape.length - 1] !== width || (bias && bias.shape[0] !== width) || [x, gain, ...(bias ? [bias] : [])].some((t) => t.dtype !== 'float32')) {
        throw new Error(`RowNormForward: x [${x.shape}], gain [${gain.shape}]${bias ? ` and bias [${bias.shape}]` : ''} must be float32 with the gain's width last`);
      }
      const rows = tf.util.sizeFromShape(x.shape) / width;
      const outputs = [backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([...x.shape.slice(0, -1), 1], 'float32')];
      const [xAt, gainAt, outAt, xhatAt, rstdAt] = [x, gain, ...outputs].map((t) => heapAddress(backend, t));
      heapLoops(backend).rowNormForward(xAt, gainAt, bias ? heapAddress(backend, bias) : 0, outAt, xhatAt, rstdAt, rows, width, eps, center ? 1 : 0, bias ? 1 : 0);
      return outputs;
    },
  };
}

/** Name of the one-kernel gradient of a LayerNorm / RMSNorm over the last axis (see {@link rowNormGradConfig}). */
export const ROW_NORM_GRAD = 'RowNormGrad';

/** Attributes of {@link ROW_NORM_GRAD}: `center` true for LayerNorm, false for RMSNorm. */
export interface RowNormGradAttrs { center: boolean }

/**
 * `RowNormGrad` on wasm: the gradients of y = xhat * gain (+ bias) for rows of width d, from the upstream dy
 * [N, d], the normalised input xhat [N, d] and each row's 1/sigma, rstd [N, 1], in one pass per row (float64):
 * with g = dy * gain,
 *   LayerNorm (xhat = (x - mean) rstd): dx = rstd (g - mean(g) - xhat mean(g xhat)),
 *   RMSNorm   (xhat = x rstd):          dx = rstd (g - xhat mean(g xhat)),
 * and dgain = sum over rows of dy xhat, dbias = sum over rows of dy (zeros for RMSNorm, which has no bias).
 * Outputs [dx, dgain, dbias]. One kernel instead of the ~25 the composite ops' automatic gradient runs, run by
 * {@link heapLoops}: the sums over a row in order of columns, dgain and dbias in order of rows (dbias by
 * `columnSums`, as the leading-axis Sum).
 */
export function rowNormGradConfig(): tf.KernelConfig {
  return {
    kernelName: ROW_NORM_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { dy, xhat, rstd, gain } = inputs as Record<'dy' | 'xhat' | 'rstd' | 'gain', tf.TensorInfo>;
      const { center } = attrs as unknown as RowNormGradAttrs;
      const width = gain.shape[0];
      const rows = tf.util.sizeFromShape(dy.shape) / width;
      if (xhat.shape.join(',') !== dy.shape.join(',') || tf.util.sizeFromShape(rstd.shape) !== rows || dy.shape[dy.shape.length - 1] !== width) {
        throw new Error(`RowNormGrad: dy [${dy.shape}], xhat [${xhat.shape}], rstd [${rstd.shape}] and gain [${gain.shape}] do not fit`);
      }
      const outputs = [backend.makeOutput([...dy.shape], 'float32'), backend.makeOutput([width], 'float32'), backend.makeOutput([width], 'float32')];
      const [dyAt, xhatAt, rstdAt, gainAt, dxAt, dGainAt, dBiasAt] = [dy, xhat, rstd, gain, ...outputs].map((t) => heapAddress(backend, t));
      const loops = heapLoops(backend);
      // float64 running sums of dgain, then of dbias
      withFloat64Sums(backend, width, (sums) => {
        loops.rowNormGrad(dyAt, xhatAt, rstdAt, gainAt, dxAt, dGainAt, sums, rows, width, center ? 1 : 0);
        if (center) loops.columnSums(dyAt, rows, width, sums, dBiasAt);
      });
      if (!center) backend.typedArrayFromHeap(outputs[2]).fill(0);
      return outputs;
    },
  };
}

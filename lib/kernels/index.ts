import * as tf from '@tensorflow/tfjs';
import { version_wasm as installedWasmVersion } from '@tensorflow/tfjs-backend-wasm';
import { logger } from '../log/logger';
import { routedBatchMatMulConfig } from './batch-matmul';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum';
import { wasmKernel } from './wasm-ops';

/** The tfjs-backend-wasm version whose BatchMatMul behaviour the routed kernel was written and tested for. */
export const PINNED_WASM_VERSION = '4.22.0';

let shippedBatchMatMul: tf.KernelConfig | undefined;
let routed = false;

/**
 * Makes the wasm backend complete and fast for training a transformer (idempotent):
 * - registers `UnsortedSegmentSum` (the gradient of `tf.gather`), which wasm lacks;
 * - replaces `BatchMatMul` with a kernel that sends every product to XNNPACK's fast path (4-7x faster training),
 *   only on the pinned tfjs-backend-wasm version; on another version it keeps the shipped kernel and warns.
 * Safe before or after `tf.setBackend('wasm')`. Called by `initBackend`.
 */
export function registerWasmKernels(): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') === undefined) tf.registerKernel(unsortedSegmentSumConfig());
  if (shippedBatchMatMul !== undefined) return;
  if (installedWasmVersion !== PINNED_WASM_VERSION) {
    logger.warn(`@tensorflow/tfjs-backend-wasm is ${installedWasmVersion}, the routed BatchMatMul kernel is pinned to `
      + `${PINNED_WASM_VERSION}: keeping the shipped BatchMatMul (correct, but training is several times slower)`);
    return;
  }
  shippedBatchMatMul = wasmKernel('BatchMatMul');
  setWasmMatMulRouting(true);
}

/**
 * Switches wasm's `BatchMatMul` between the routed kernel (`true`) and the shipped one (`false`), e.g. to
 * measure the difference. Requires `registerWasmKernels()` to have installed the routed kernel.
 */
export function setWasmMatMulRouting(enabled: boolean): void {
  if (shippedBatchMatMul === undefined) {
    throw new Error('setWasmMatMulRouting: the routed BatchMatMul is not installed (call registerWasmKernels() first, '
      + `with @tensorflow/tfjs-backend-wasm ${PINNED_WASM_VERSION})`);
  }
  if (enabled === routed) return;
  const config = enabled ? routedBatchMatMulConfig(shippedBatchMatMul) : shippedBatchMatMul;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(config);
  routed = enabled;
}

/** Whether wasm's `BatchMatMul` is currently the routed (fast) kernel. */
export function wasmMatMulRouted(): boolean {
  return routed;
}

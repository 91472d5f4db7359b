import * as tf from '@tensorflow/tfjs';
import { version_wasm as installedWasmVersion } from '@tensorflow/tfjs-backend-wasm';
import { logger } from '../log/logger';
import { adamwStepConfig } from './adamw-step';
import { maskedBatchMatMulConfig, routedBatchMatMulConfig } from './batch-matmul';
import { MASKED_BATCH_MATMUL } from './causal-products';
import { decodeAttentionConfig } from './decode-attention';
import { decodeBlockConfig } from './decode-block';
import { gatherRowsConfig } from './gather-rows';
import { geluArgumentConfig, geluTanhGradConfig } from './gelu-grad';
import { heapConcatConfig, heapSliceConfig, heapSplitConfig } from './heap-slice';
import { heapTransposeConfig } from './heap-transpose';
import { integerPowConfig } from './integer-pow';
import { leadingSumConfig } from './leading-sum';
import { rowNormConfig, rowNormForwardConfig, rowNormGradConfig } from './row-norm';
import { sharedCastConfig, sharedIdentityConfig } from './shared-identity';
import { softmaxGradConfig } from './softmax-grad';
import { squaredNormConfig } from './squared-norm';
import { PackedWeights } from './packed-weights';
import { pooledExpKernelConfig, pooledFusedMatMulConfig } from './pooled-kernels';
import { TransposeCache } from './transpose-cache';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum';
import { wasmKernel } from './wasm-ops';

/** The tfjs-backend-wasm version whose kernels the replacements were written and tested against. */
export const PINNED_WASM_VERSION = '4.22.0';

/** Transposed weights held by the routed BatchMatMul for sampling. */
const transposes = new TransposeCache();

/** The budget of XNNPACK packed copies kept for the routed BatchMatMul's persistent operands (see PackedWeights). */
export const packedWeights = new PackedWeights();

/** Shipped wasm kernels that have a faster replacement here, and how to build the replacement from them. */
const REPLACEMENTS: Record<string, (shipped: tf.KernelConfig) => tf.KernelConfig> = {
  BatchMatMul: (shipped) => routedBatchMatMulConfig(shipped, transposes, packedWeights),
  Pow: integerPowConfig,
  Identity: sharedIdentityConfig,
  GatherV2: gatherRowsConfig,
  Sum: leadingSumConfig,
  Cast: sharedCastConfig,
  Slice: heapSliceConfig,
  SplitV: heapSplitConfig,
  Concat: heapConcatConfig,
  Transpose: heapTransposeConfig,
  _FusedMatMul: pooledFusedMatMulConfig,
  Softmax: pooledExpKernelConfig,
  Sigmoid: pooledExpKernelConfig,
};

let shipped: Map<string, tf.KernelConfig> | undefined;
let fast = false;

/**
 * Makes the wasm backend complete and fast for training a transformer (idempotent):
 * - registers `UnsortedSegmentSum` (the gradient of `tf.gather`, i.e. of embeddings), which wasm lacks, and
 *   the one-kernel `RowNorm`, `DecodeAttention` and `DecodeBlock` that decoding uses, `RowNormForward` and
 *   `GeluArgument` in training's forward pass, `RowNormGrad`, `GeluTanhGrad` and `SoftmaxGrad` that the norms',
 *   GELU's and attention's softmax's gradients use, and `AdamWStep` and `SquaredNorm` that the optimizer and
 *   gradient clipping use (see `rowNorm`, `decodeAttention`, `rowNormForward`, `geluArgument`, `rowNormGrad`,
 *   `geluTanhGrad`, `softmaxGrad`, `adamwStep`, `squaredNorm`);
 * - replaces `BatchMatMul` by a kernel that sends every product to a fast path (XNNPACK, or a sequential wasm SIMD
 *   product with XNNPACK's rounding for weight gradients and attention's per-head products; 4-7x faster training),
 *   and adds `MaskedBatchMatMul`, attention's products that skip what the causal mask hides (see `maskedMatMul`),
 *   `Pow` by repeated multiplication for exponents 1-4 (GELU's x^3), `Identity` (run on every tensor saved
 *   for the backward pass) and same-dtype `Cast` by ones that share the buffer instead of copying it,
 *   `GatherV2` by row copies for embedding lookups, `Sum` over leading axes (bias and gain gradients) by
 *   a loop without a transpose, `Slice` / `SplitV` / `Concat` by copies in the heap, and `Transpose` of the
 *   last two axes by a wasm loop in 4 x 4 blocks, and wraps `_FusedMatMul` so that a large product runs on
 *   XNNPACK's whole thread pool while decoding limits it to one thread (see `runProduct`), and `Softmax` and
 *   `Sigmoid` so that a large one does while a training step limits it (see `runExpKernel`);
 * the replacements only on the pinned tfjs-backend-wasm version: on another one the shipped kernels stay
 * (correct, slower) with a warning. Safe before or after `tf.setBackend('wasm')`. Called by `initBackend`.
 */
export function registerWasmKernels(): void {
  const ownKernels = [unsortedSegmentSumConfig, rowNormConfig, rowNormForwardConfig, rowNormGradConfig, geluArgumentConfig, geluTanhGradConfig, softmaxGradConfig, adamwStepConfig, squaredNormConfig, decodeAttentionConfig, decodeBlockConfig];
  for (const kernel of ownKernels) {
    const config = kernel();
    if (tf.getKernel(config.kernelName, 'wasm') === undefined) tf.registerKernel(config);
  }
  if (shipped !== undefined) return;
  if (installedWasmVersion !== PINNED_WASM_VERSION) {
    logger.warn(`@tensorflow/tfjs-backend-wasm is ${installedWasmVersion} but the fast replacement `
      + `kernels are pinned to ${PINNED_WASM_VERSION}: keeping the shipped kernels (correct, but training is several `
      + 'times slower)');
    return;
  }
  shipped = new Map(Object.keys(REPLACEMENTS).map((name) => [name, wasmKernel(name)]));
  setFastWasmKernels(true);
}

/**
 * Switches wasm's `BatchMatMul`, `Pow`, `Identity`, `Cast`, `GatherV2`, `Sum`, `Slice`, `SplitV`, `Concat`, `Transpose`,
 * `_FusedMatMul`, `Softmax` and `Sigmoid` between the project's fast kernels (`true`) and the shipped ones
 * (`false`), e.g. to measure the difference (`MaskedBatchMatMul` exists only with the fast ones).
 * Requires `registerWasmKernels()` to have installed them.
 */
export function setFastWasmKernels(enabled: boolean): void {
  if (shipped === undefined) {
    throw new Error('setFastWasmKernels: the fast kernels are not installed (call registerWasmKernels() first, '
      + `with @tensorflow/tfjs-backend-wasm ${PINNED_WASM_VERSION})`);
  }
  if (enabled === fast) return;
  for (const [name, original] of shipped) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(enabled ? REPLACEMENTS[name](original) : original);
  }
  // Attention's masked products route as BatchMatMul does; without the fast kernels they are plain products.
  if (enabled) tf.registerKernel(maskedBatchMatMulConfig(shipped.get('BatchMatMul')!, transposes, packedWeights));
  else tf.unregisterKernel(MASKED_BATCH_MATMUL, 'wasm');
  if (!enabled) transposes.clear();
  fast = enabled;
}

/** Whether the wasm kernels listed in {@link setFastWasmKernels} are the project's fast ones. */
export function fastWasmKernelsOn(): boolean {
  return fast;
}

export { adamwStep, decodeAttention, decodeBlock, geluArgument, geluTanhGrad, maskedMatMul, rowNorm, rowNormForward, rowNormGrad, softmaxGrad, squaredNorm, type DecodeBlockWeights } from './fused-ops';
export type { CausalMaskAttrs } from './causal-products';
export type { AdamWStepAttrs } from './adamw-step';
export type { DecodeAttentionAttrs } from './decode-attention';
export type { DecodeBlockAttrs } from './decode-block';

/**
 * Peak memory of training or sampling a {@link CausalLM}, estimated from its config before any tensor is made,
 * and the check that refuses a run whose estimate exceeds the backend's memory (wasm: a 4 GiB heap), naming the
 * numbers and the settings that would fit.
 */
import { hasQKVBias, type Architecture, type ResolvedModelConfig } from './config';
import { t5WeightShapes, type ResolvedT5Config } from './t5-config';
import { weightShapes } from './weights';

/** Bytes of one float32 value. */
const FLOAT = 4;

/** The wasm backend's heap: 4 GiB exactly, never shrinking (see the README's backend section). */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/**
 * Floats alive at a training step's peak, per token and layer: a term in the model width (norm inputs and
 * outputs, q/k/v, attention output, residual sums, their gradients), one in the MLP width (SwiGLU keeps more
 * than GELU) and one in heads x sequence length (scores, probabilities); then per token the logits' copies
 * (logits, log-softmax, their gradients) and, per trainable parameter, the gradient copies (the micro-batch's
 * and the clipped ones). Fitted to the wasm heap's tensor bytes at the peak ({@link trackTensorBytes}) on eleven
 * small GPT-2 and Llama shapes (-6% to +9%); tests/model/memory.test.ts holds it to 15%.
 */
const ACTIVATION_PER_D = 39;
const ACTIVATION_PER_FF: Record<Architecture, number> = { gpt2: 5, llama: 13, qwen2: 13 };
const ACTIVATION_PER_SCORE = 6;
const LOGIT_COPIES = 6;
const GRADIENT_COPIES = 2;
/** A KV cache's positions at its peak per position filled: the free slots ahead and the copy made when it grows. */
const KV_COPIES = 3;

/** What is trained: every weight, or low-rank adapters on some projections. */
export type TrainingMode = { kind: 'full' } | { kind: 'lora'; rank: number; parameters: number };

/** The run whose peak is estimated. */
export interface MemoryPlan {
  config: ResolvedModelConfig;
  mode: TrainingMode;
  /** Rows per forward/backward pass (0: sampling only, no training). */
  microBatch: number;
  /** Tokens per training row. */
  seqLen: number;
  /** Rows sampled at once with a KV cache (0: no sampling). */
  sampleBatch?: number;
  /** Prompt + new tokens per sampled row. */
  sampleLen?: number;
  /** A second, frozen copy of the weights is held (RL's reference policy under full fine-tuning). */
  referenceCopy?: boolean;
  /** Blocks recomputed in the backward pass ({@link CausalLM.gradientCheckpointing}). */
  gradientCheckpointing?: boolean;
  /** Rows of logits at once ({@link CausalLM.logitChunkRows}; 0 or absent: all). */
  logitChunkRows?: number;
  /** Bytes of weights whose XNNPACK packed copies are kept (lib/kernels/packed-weights.ts; absent: all of them). */
  packedBudget?: number;
}

/** Estimated bytes by part; `total` is their sum. */
export interface MemoryEstimate {
  weights: number;
  /**
   * Outside the tensors, in the wasm heap: XNNPACK's packed copies of the weights the backend keeps (up to the
   * plan's budget), and when that budget is exceeded the largest matrix packed anew on each use (the head), twice
   * (its packed copy and the hole the previous one left), unless the head's copy is kept within the budget
   * ({@link keepsHeadPacked}).
   */
  packed: number;
  /**
   * The transposed tied embedding [d, V] that sampling and chunked logits multiply by, made once and kept: one per
   * KV cache when logits are whole, else one shared by chunks and decoding while every packed copy is kept (none
   * under a packed-weights budget: the product then reads the embedding as it is; lib/kernels/batch-matmul.ts).
   */
  headCopy: number;
  /**
   * What decoding derives from the weights and keeps per KV cache: each layer's fused [wq | wk | wv] (and
   * [bq | bk | bv]), and XNNPACK's packed copy of it (always with the biased layouts, whose fused product the
   * budget does not govern; else while every packed copy is kept).
   */
  decodeWeights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  kvCache: number;
  total: number;
}

/** LM parameter count of a config (the value head excluded). */
export function parameterCount(config: ResolvedModelConfig): number {
  let n = 0;
  for (const shape of weightShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Peak bytes of a plan: weights (plus a reference copy), gradient copies of the trainable parameters, AdamW's
 * two moments, the activations one micro-batch keeps for its backward pass, and the KV cache of a sampling batch
 * (keys and values of every layer: up to twice the positions in free slots, three times while a step that finds no
 * free slot copies the cache into one twice as long; see `KVCache.slotsFor`).
 */
export function estimateMemory(plan: MemoryPlan): MemoryEstimate {
  const { config, mode, microBatch, seqLen } = plan;
  const params = parameterCount(config);
  const trainable = microBatch === 0 ? 0 : mode.kind === 'full' ? params : mode.parameters;
  const weights = FLOAT * params * (plan.referenceCopy && mode.kind === 'full' ? 2 : 1);
  const gradients = FLOAT * trainable * GRADIENT_COPIES;
  const optimizer = FLOAT * trainable * 2;
  const tokens = microBatch * seqLen;
  const perLayer = ACTIVATION_PER_D * config.dModel + ACTIVATION_PER_FF[config.arch] * config.dFF + ACTIVATION_PER_SCORE * config.nHeads * seqLen;
  // Recomputed blocks keep each block's input [tokens, d] and one block's activations at a time.
  const blocks = plan.gradientCheckpointing ? config.nLayers * config.dModel + perLayer : config.nLayers * perLayer;
  const chunk = plan.logitChunkRows ?? 0;
  const logitRows = chunk > 0 ? Math.min(chunk, tokens) : tokens;
  const activations = FLOAT * (tokens * blocks + logitRows * LOGIT_COPIES * config.vocabSize);
  const kvWidth = (config.dModel / config.nHeads) * config.nKvHeads;
  const sampleRows = plan.sampleBatch ?? 0;
  const kvCache = FLOAT * 2 * KV_COPIES * config.nLayers * sampleRows * (plan.sampleLen ?? 0) * kvWidth
    + FLOAT * sampleRows * config.vocabSize * 2;
  const headMatrix = FLOAT * config.vocabSize * config.dModel;
  const budget = plan.packedBudget ?? Number.POSITIVE_INFINITY;
  const keepsAll = budget === Number.POSITIVE_INFINITY;
  // Chunked logits (and then decoding too, CausalLM.head) multiply few rows by the embedding with transposeB: the
  // kernel keeps one transposed copy for them while every packed copy is kept, none under a budget. Decoding with
  // whole logits keeps one per cache (and more rows than FEW_ROWS transpose it per step).
  const fewRowsShare = chunk > 0 && ((microBatch > 0 && chunk <= FEW_ROWS) || (sampleRows > 0 && sampleRows <= FEW_ROWS));
  const ownCopy = sampleRows > 0 && !(chunk > 0 && sampleRows <= FEW_ROWS);
  const headCopy = config.tieEmbeddings && (ownCopy || (fewRowsShare && keepsAll)) ? headMatrix : 0;
  const fusedQKV = FLOAT * config.nLayers * (config.dModel + (hasQKVBias(config.arch) ? 1 : 0)) * (config.dModel + 2 * kvWidth);
  const decodeWeights = sampleRows > 0 ? fusedQKV * (hasQKVBias(config.arch) || keepsAll ? 2 : 1) : 0;
  const packable = FLOAT * packedParameters(config) + headMatrix;
  // Past the budget: the head packed anew per use, twice (its copy and the hole the previous one left); or, kept
  // within the budget, once more as headroom for the holes a long run leaves (a Qwen2.5-0.5B run's heap held
  // ~530 MiB beyond its live bytes after training).
  const packed = packable <= budget ? packable : keepsHeadPacked(plan) ? Math.max(budget, headMatrix) + headMatrix : budget + 2 * headMatrix;
  const total = weights + packed + headCopy + decodeWeights + gradients + optimizer + activations + kvCache;
  return { weights, packed, headCopy, decodeWeights, gradients, optimizer, activations, kvCache, total };
}

/**
 * Floats a T5 training step keeps per token and layer, fitted like the decoder-only ones on four small T5 shapes
 * (relu and gated-GELU, tied and untied; -7% to +9% of the measured step): per source token and encoder layer
 * 39 d + 4 d_ff (relu) or 10 d_ff (gated-GELU) + 5 heads x S; per target token and decoder layer 58 d (self- and
 * cross-attention) + the same feed-forward term + 5 heads x (T + S); 4 vocabulary-wide rows per target token.
 */
const T5_ENCODER_PER_D = 39;
const T5_DECODER_PER_D = 58;
const T5_PER_FF = { relu: 4, 'gated-gelu': 10 } as const;
const T5_PER_SCORE = 5;
const T5_LOGIT_COPIES = 4;

/** A T5 run whose peak is estimated: full fine-tuning on micro-batches of source + target rows, and sampling. */
export interface T5MemoryPlan {
  config: ResolvedT5Config;
  /** Rows per forward/backward pass (0: sampling only). */
  microBatch: number;
  sourceLen: number;
  targetLen: number;
  /** Rows sampled at once with a KV cache, their source length and new tokens. */
  sampleBatch?: number;
  sampleSourceLen?: number;
  sampleLen?: number;
}

/**
 * Peak bytes of a T5 plan, by the same parts as {@link estimateMemory}: weights, AdamW's state and two gradient
 * copies of every weight, a micro-batch's activations, XNNPACK's packed copies of every matrix (and of the head),
 * and the self- and cross-attention caches of a sampling batch.
 */
export function estimateT5Memory(plan: T5MemoryPlan): MemoryEstimate {
  const { config, microBatch, sourceLen: S, targetLen: T } = plan;
  let params = 0;
  let matrices = 0;
  for (const [name, shape] of t5WeightShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    if (shape.length === 2 && name !== 'shared' && !name.endsWith('rel_bias')) matrices += n;
  }
  const trainable = microBatch === 0 ? 0 : params;
  const ff = T5_PER_FF[config.feedForward] * config.dFF;
  const encoder = S * config.nLayers * (T5_ENCODER_PER_D * config.dModel + ff + T5_PER_SCORE * config.nHeads * S);
  const decoder = T * config.nDecoderLayers * (T5_DECODER_PER_D * config.dModel + ff + T5_PER_SCORE * config.nHeads * (T + S));
  const activations = FLOAT * microBatch * (encoder + decoder + T * T5_LOGIT_COPIES * config.vocabSize);
  const inner = config.nHeads * config.dKv;
  const rows = plan.sampleBatch ?? 0;
  const kvCache = FLOAT * 2 * config.nDecoderLayers * rows * inner * ((plan.sampleLen ?? 0) * 2 + (plan.sampleSourceLen ?? 0))
    + FLOAT * rows * config.vocabSize * 2;
  const headMatrix = FLOAT * config.vocabSize * config.dModel;
  const parts = {
    weights: FLOAT * params, packed: FLOAT * matrices + headMatrix, headCopy: config.tieEmbeddings && rows > 0 ? headMatrix : 0,
    decodeWeights: 0, // T5 decoding keeps no fused projections per cache
    gradients: FLOAT * trainable * GRADIENT_COPIES, optimizer: FLOAT * trainable * 2, activations, kvCache,
  };
  return { ...parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}

/**
 * The largest packed-weights budget (see {@link MemoryPlan.packedBudget}) under which the plan's estimate fits
 * `limit`: unlimited when it fits with every packed copy kept, 0 when it fits with none kept or not at all.
 */
export function packedBudgetFor(plan: MemoryPlan, limit: number): number {
  if (estimateMemory({ ...plan, packedBudget: undefined }).total <= limit) return Number.POSITIVE_INFINITY;
  const atZero = estimateMemory({ ...plan, packedBudget: 0 });
  const headMatrix = FLOAT * plan.config.vocabSize * plan.config.dModel;
  // Everything but the packed copies: the budget is what it leaves beside the head-sized terms of estimateMemory.
  const rest = atZero.total - atZero.packed;
  return keepsHeadPacked({ ...plan, packedBudget: 0 }) ? Math.max(headMatrix, limit - rest - headMatrix) : Math.max(0, limit - rest - 2 * headMatrix);
}

/**
 * Whether, under a packed-weights budget, the frozen tied head's packed copy is kept (`packedWeights.keep` of the
 * embedding, first within the budget): LoRA training with logits in chunks of few rows, whose backward pass
 * multiplies by the embedding in every chunk. Packed anew on each use instead, it would need a contiguous block of
 * its size each time, which the heap of a long run may not have left.
 */
export function keepsHeadPacked(plan: MemoryPlan): boolean {
  const chunk = plan.logitChunkRows ?? 0;
  const budget = plan.packedBudget ?? Number.POSITIVE_INFINITY;
  return plan.config.tieEmbeddings && plan.mode.kind === 'lora' && plan.microBatch > 0 && chunk > 0 && chunk <= FEW_ROWS && budget !== Number.POSITIVE_INFINITY;
}

/**
 * Rows up to which the routed BatchMatMul multiplies by a kept transposed copy of a large right operand
 * (lib/kernels/batch-matmul.ts): sampling's rows, and chunks of logits this small.
 */
const FEW_ROWS = 64;

/**
 * Parameters in the weights that stay the right operand of their products from pass to pass, so the backend
 * keeps their packed copies: each layer's output projection and feed-forward matrices (q, k and v are fused
 * into a new matrix on each pass, packed and released with it).
 */
function packedParameters(config: ResolvedModelConfig): number {
  let n = 0;
  for (const [name, shape] of weightShapes(config)) if (/\.(attn\.wo|mlp\.w_\w+)$/.test(name)) n += shape[0] * shape[1];
  return n;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${Math.round(bytes / MiB).toLocaleString('en-US')} MiB`;

/** One line naming each part of an estimate. */
export function describeEstimate(e: MemoryEstimate): string {
  return `${mib(e.total)} (weights ${mib(e.weights)}, packed weights ${mib(e.packed)}, ${e.headCopy > 0 ? `transposed embedding ${mib(e.headCopy)}, ` : ''}${e.decodeWeights > 0 ? `decoding's fused q/k/v ${mib(e.decodeWeights)}, ` : ''}gradients ${mib(e.gradients)}, optimizer moments ${mib(e.optimizer)}, `
    + `activations ${mib(e.activations)}, KV cache ${mib(e.kvCache)})`;
}

/** Thrown by {@link checkMemory}: the run would not fit. */
export class MemoryLimitError extends Error {
  constructor(message: string, readonly estimate: MemoryEstimate, readonly limit: number) {
    super(message);
    this.name = 'MemoryLimitError';
  }
}

/**
 * Settings near the plan that fit under `limit`: LoRA (rank 16 on four d x d projections) instead of full fine-tuning,
 * recomputed blocks with logits 64 rows at a time (and packed weights within the heap left), smaller
 * micro-batches, shorter rows, alone or combined; fewest changes first, then the largest that fits; at most three.
 */
function settingsThatFit(plan: MemoryPlan, limit: number): string[] {
  const found: { text: string; changes: number; total: number }[] = [];
  const modes: (TrainingMode | undefined)[] = plan.mode.kind === 'full' && plan.microBatch > 0 ? [undefined, { kind: 'lora', rank: 16, parameters: plan.config.nLayers * 16 * 8 * plan.config.dModel }] : [undefined];
  const microBatches = [plan.microBatch];
  for (let m = Math.floor(plan.microBatch / 2); m >= 1; m = Math.floor(m / 2)) microBatches.push(m);
  const lengths = [plan.seqLen];
  for (let t = Math.floor(plan.seqLen / 2); t >= 32; t = Math.floor(t / 2)) lengths.push(t);
  const recompute = plan.gradientCheckpointing || plan.microBatch === 0 ? [false] : [false, true];
  for (const mode of modes) {
    for (const saving of recompute) {
      for (const microBatch of microBatches) {
        for (const seqLen of lengths) {
          const changes = [
            mode ? 'LoRA (rank 16)' : '', saving ? 'gradientCheckpointing with logitChunkRows 64' : '',
            microBatch !== plan.microBatch ? `micro-batch ${microBatch}` : '', seqLen !== plan.seqLen ? `sequence length ${seqLen}` : '',
          ].filter(Boolean);
          if (changes.length === 0) continue;
          let changed: MemoryPlan = { ...plan, mode: mode ?? plan.mode, microBatch, seqLen };
          if (saving) changed = { ...changed, gradientCheckpointing: true, logitChunkRows: 64 };
          const total = estimateMemory({ ...changed, packedBudget: packedBudgetFor(changed, limit) }).total;
          if (total <= limit) found.push({ text: `${changes.join(', ')}: ${mib(total)}`, changes: changes.length, total });
        }
      }
    }
  }
  found.sort((a, b) => a.changes - b.changes || b.total - a.total);
  return found.slice(0, 3).map((f) => f.text);
}

/**
 * Refuses a plan whose estimated peak exceeds `limit` bytes, with a {@link MemoryLimitError} that names the
 * estimate by part, the limit, and settings that would fit (or says none near it does). Returns the estimate.
 * `what` names the run in the message (e.g. `distill: student`).
 */
export function checkMemory(plan: MemoryPlan, limit: number, what: string): MemoryEstimate {
  const estimate = estimateMemory(plan);
  if (estimate.total <= limit) return estimate;
  const fits = settingsThatFit(plan, limit);
  const advice = fits.length > 0 ? `settings that fit: ${fits.join('; ')}` : 'no smaller micro-batch, sequence length or LoRA setting fits: use a smaller model';
  throw new MemoryLimitError(
    `${what}: estimated peak memory ${describeEstimate(estimate)} exceeds the backend's ${mib(limit)} `
    + `(${parameterCount(plan.config).toLocaleString('en-US')} parameters, ${plan.mode.kind === 'full' ? 'full fine-tuning' : `LoRA rank ${plan.mode.rank}`}, `
    + `micro-batch ${plan.microBatch} x ${plan.seqLen} tokens); ${advice}`,
    estimate, limit,
  );
}

/** A running count of the bytes the wasm backend holds for tensors; see {@link trackTensorBytes}. */
export interface TensorBytesTracker {
  /** Bytes held now. */
  readonly current: number;
  /** Most bytes held at once since tracking started (or since {@link resetPeak}). */
  readonly peak: number;
  /**
   * The wasm heap's size now: its high-water mark (it grows and never shrinks), tensor buffers plus what the
   * backend allocates inside wasm (XNNPACK's packed weights, kernel scratch) plus fragmentation. Past 4 GiB a run aborts.
   */
  readonly heapBytes: number;
  resetPeak(): void;
  /** Stops counting (restores the backend's allocator calls). */
  stop(): void;
}

interface WasmModule {
  _malloc(bytes: number): number;
  _free(offset: number): void;
  HEAPU8: Uint8Array;
}

/**
 * Counts the wasm backend's tensor buffers as they are allocated and freed (each buffer once, however many
 * tensors view it: tf.memory() counts a reshaped view again), to measure a real peak. `backend` is
 * `tf.backend()` on wasm; throws on another backend.
 * Emscripten binds `_malloc` and `_free` lazily: their first call replaces the module's property with the raw
 * export, which would drop a hook assigned in its place. So each hook is a getter that keeps the hook in place and
 * a setter that takes the replacement as the function to call.
 */
export function trackTensorBytes(backend: unknown): TensorBytesTracker {
  const wasm = (backend as { wasm?: WasmModule }).wasm;
  if (!wasm || typeof wasm._malloc !== 'function') throw new Error('trackTensorBytes: needs the wasm backend');
  const sizes = new Map<number, number>();
  const state = { current: 0, peak: 0 };
  const originals = { _malloc: Object.getOwnPropertyDescriptor(wasm, '_malloc')!, _free: Object.getOwnPropertyDescriptor(wasm, '_free')! };
  let malloc = wasm._malloc;
  let free = wasm._free;
  const hookedMalloc = (bytes: number) => {
    const offset = malloc.call(wasm, bytes);
    sizes.set(offset >>> 0, bytes);
    state.current += bytes;
    state.peak = Math.max(state.peak, state.current);
    return offset;
  };
  const hookedFree = (offset: number) => {
    state.current -= sizes.get(offset >>> 0) ?? 0;
    sizes.delete(offset >>> 0);
    free.call(wasm, offset);
  };
  Object.defineProperty(wasm, '_malloc', { configurable: true, get: () => hookedMalloc, set: (f: WasmModule['_malloc']) => { malloc = f; } });
  Object.defineProperty(wasm, '_free', { configurable: true, get: () => hookedFree, set: (f: WasmModule['_free']) => { free = f; } });
  return {
    get current() { return state.current; },
    get peak() { return state.peak; },
    get heapBytes() { return wasm.HEAPU8.buffer.byteLength; },
    resetPeak: () => { state.peak = state.current; },
    stop: () => {
      Object.defineProperty(wasm, '_malloc', { ...originals._malloc, value: malloc });
      Object.defineProperty(wasm, '_free', { ...originals._free, value: free });
    },
  };
}

/**
 * One config type for the decoder layouts:
 * - `gpt2`: learned position embeddings, LayerNorm, GELU (tanh form) MLP, biases on every linear map;
 * - `llama`: rotary position embeddings (HF rotate-half convention), RMSNorm, SwiGLU MLP, grouped-query attention,
 *   no biases (also Mistral without a sliding window);
 * - `qwen2`: `llama` with biases on the query, key and value projections (Qwen2, Qwen2.5).
 */
export type Architecture = 'gpt2' | 'llama' | 'qwen2';

/** The shape of a causal transformer LM. Optional fields take the defaults of {@link resolveModelConfig}. */
export interface ModelConfig {
  arch: Architecture;
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Key/value heads for grouped-query attention (llama/qwen2 only; default nHeads). Must divide nHeads. */
  nKvHeads?: number;
  /** Hidden width of the MLP (default 4 * dModel for gpt2, about 8/3 * dModel rounded up to 32 for llama/qwen2). */
  dFF?: number;
  /** Longest sequence (prompt + generated tokens) the model accepts. */
  maxSeqLen: number;
  /** Epsilon of LayerNorm / RMSNorm (default 1e-5). */
  normEps?: number;
  /** Base of the rotary frequencies (llama/qwen2 only; default 10000). */
  ropeTheta?: number;
  /** Share the token embedding with the output projection (default true for gpt2 and qwen2, false for llama). */
  tieEmbeddings?: boolean;
}

/** A {@link ModelConfig} with every optional field filled in. */
export type ResolvedModelConfig = Required<ModelConfig>;

const ARCHITECTURES: readonly Architecture[] = ['gpt2', 'llama', 'qwen2'];

/** What a layout's blocks are made of: the named choices the model code reads (see {@link LAYOUTS}). */
export interface Layout {
  /** `learned`: a position embedding added to the token's; `rotary`: q and k rotated by position (RoPE). */
  positions: 'learned' | 'rotary';
  /** `layer`: LayerNorm with gain and shift; `rms`: RMSNorm with gain only. */
  norm: 'layer' | 'rms';
  /** `gelu`: w_out(gelu(w_in x)); `swiglu`: w_out(silu(w_gate x) * w_up x). */
  mlp: 'gelu' | 'swiglu';
  /** Which linear maps add a bias: every one, only the query/key/value projections, or none. */
  biases: 'all' | 'qkv' | 'none';
}

/** The layout of each architecture. */
export const LAYOUTS: Record<Architecture, Layout> = {
  gpt2: { positions: 'learned', norm: 'layer', mlp: 'gelu', biases: 'all' },
  llama: { positions: 'rotary', norm: 'rms', mlp: 'swiglu', biases: 'none' },
  qwen2: { positions: 'rotary', norm: 'rms', mlp: 'swiglu', biases: 'qkv' },
};

/** Whether a layout has biases on its query, key and value projections. */
export function hasQKVBias(arch: Architecture): boolean {
  return LAYOUTS[arch].biases !== 'none';
}

/** Whether a layout uses rotary position embeddings (else learned ones). */
export function usesRotary(arch: Architecture): boolean {
  return LAYOUTS[arch].positions === 'rotary';
}

function positiveInteger(config: Record<string, unknown>, field: string, where: string): number {
  const value = config[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${where}: field "${field}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Checks a config and fills in defaults. Throws one Error naming the field when the architecture is unknown or
 * the shapes do not fit (dModel % nHeads, nHeads % nKvHeads, an odd head size under RoPE, ...).
 * `where` names the source (a file path) in messages.
 */
export function validateModelConfig(config: unknown, where = 'model config'): ResolvedModelConfig {
  if (typeof config !== 'object' || config === null) throw new Error(`${where}: expected an object, got ${JSON.stringify(config)}`);
  const raw = config as Record<string, unknown>;
  if (!ARCHITECTURES.includes(raw.arch as Architecture)) {
    throw new Error(`${where}: field "arch" is ${JSON.stringify(raw.arch)}; known architectures: ${ARCHITECTURES.join(', ')}`);
  }
  const arch = raw.arch as Architecture;
  const vocabSize = positiveInteger(raw, 'vocabSize', where);
  const dModel = positiveInteger(raw, 'dModel', where);
  const nLayers = positiveInteger(raw, 'nLayers', where);
  const nHeads = positiveInteger(raw, 'nHeads', where);
  const maxSeqLen = positiveInteger(raw, 'maxSeqLen', where);
  const nKvHeads = raw.nKvHeads === undefined ? nHeads : positiveInteger(raw, 'nKvHeads', where);
  const defaultFF = arch === 'gpt2' ? 4 * dModel : Math.ceil((8 * dModel) / 3 / 32) * 32;
  const dFF = raw.dFF === undefined ? defaultFF : positiveInteger(raw, 'dFF', where);
  if (dModel % nHeads !== 0) {
    throw new Error(`${where}: field "nHeads" (${nHeads}) must divide field "dModel" (${dModel})`);
  }
  if (nHeads % nKvHeads !== 0) {
    throw new Error(`${where}: field "nKvHeads" (${nKvHeads}) must divide field "nHeads" (${nHeads})`);
  }
  if (arch === 'gpt2' && nKvHeads !== nHeads) {
    throw new Error(`${where}: field "nKvHeads" (${nKvHeads}) must equal "nHeads" (${nHeads}) for arch gpt2`);
  }
  if (usesRotary(arch) && (dModel / nHeads) % 2 !== 0) {
    throw new Error(`${where}: head size dModel / nHeads = ${dModel / nHeads} must be even for rotary embeddings (arch ${arch})`);
  }
  const normEps = raw.normEps === undefined ? 1e-5 : raw.normEps;
  if (typeof normEps !== 'number' || !(normEps > 0)) throw new Error(`${where}: field "normEps" must be a positive number`);
  const ropeTheta = raw.ropeTheta === undefined ? 10000 : raw.ropeTheta;
  if (typeof ropeTheta !== 'number' || !(ropeTheta > 0)) throw new Error(`${where}: field "ropeTheta" must be a positive number`);
  const tieEmbeddings = raw.tieEmbeddings === undefined ? arch !== 'llama' : raw.tieEmbeddings;
  if (typeof tieEmbeddings !== 'boolean') throw new Error(`${where}: field "tieEmbeddings" must be true or false`);
  const known = new Set(['arch', 'vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'dFF', 'maxSeqLen', 'normEps', 'ropeTheta', 'tieEmbeddings']);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new Error(`${where}: unknown field "${unknown[0]}"`);
  return { arch, vocabSize, dModel, nLayers, nHeads, nKvHeads, dFF, maxSeqLen, normEps, ropeTheta, tieEmbeddings };
}

/**
 * Hugging Face checkpoint folders (config.json + model.safetensors or a sharded index) in the GPT-2 and Llama
 * layouts, mapped to and from this library's native names:
 * - GPT-2 (`transformer.` prefix optional): Conv1D weights are stored [in, out] like ours; `attn.c_attn` holds
 *   q, k and v side by side in its columns; `wte`/`wpe`/`ln_f`; the LM head is tied to `wte`.
 * - Llama, Mistral, Qwen2 (`model.` prefix): nn.Linear weights are stored [out, in] and are transposed; rotary
 *   embeddings use the rotate-half convention, as ours do, so q/k need no permutation; `lm_head` unless
 *   tie_word_embeddings; Qwen2 adds `q_proj`/`k_proj`/`v_proj` biases.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { saveAsHFTokenizer } from '../tokenizer/hf-export';
import { loadTokenizer } from '../tokenizer/load';
import type { Tokenizer } from '../tokenizer/types';
import { CausalLM, type WeightArrays } from './causal-lm';
import { checkTokenizerFits, writeFolderAtomic } from './folder';
import type { SamplingOptions } from './sampling';
import { hasQKVBias, type ResolvedModelConfig, validateModelConfig } from './config';
import { readSafetensors, writeSafetensors } from './safetensors';
import { asObject, readJsonFile } from '../tokenizer/json-file';
import { mergedArrays } from './lora';

type Tensor = { shape: number[]; data: Float32Array };

/** A JSON object file (missing file, malformed JSON with line and column, or not an object: one error naming it). */
function readJsonObject(path: string): Record<string, unknown> {
  return asObject(readJsonFile(path), path);
}

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose(t: Tensor): Tensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return { shape: [cols, rows], data: out };
}

/** Columns [from, from + width) of a [rows, cols] matrix, or entries of a vector. */
function columns(t: Tensor, from: number, width: number): Tensor {
  if (t.shape.length === 1) return { shape: [width], data: t.data.slice(from, from + width) };
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * cols + from, r * cols + from + width), r * width);
  return { shape: [rows, width], data: out };
}

/** Side-by-side concatenation of matrices with the same rows (or of vectors). */
function concatColumns(parts: Tensor[]): Tensor {
  if (parts[0].shape.length === 1) {
    const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
    let at = 0;
    for (const p of parts) (data.set(p.data, at), (at += p.data.length));
    return { shape: [data.length], data };
  }
  const rows = parts[0].shape[0];
  const width = parts.reduce((n, p) => n + p.shape[1], 0);
  const data = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let at = r * width;
    for (const p of parts) (data.set(p.data.subarray(r * p.shape[1], (r + 1) * p.shape[1]), at), (at += p.shape[1]));
  }
  return { shape: [rows, width], data };
}

// --- config.json ------------------------------------------------------------------------------------------

function field(json: Record<string, unknown>, name: string, path: string, fallback?: unknown): unknown {
  const value = json[name] ?? fallback;
  if (value === undefined) throw new Error(`${path}: field "${name}" is missing`);
  return value;
}

type HFConfigReader = (json: Record<string, unknown>, path: string, cap: (n: unknown) => unknown) => Record<string, unknown>;

function gpt2Config(json: Record<string, unknown>, path: string, cap: (n: unknown) => unknown): Record<string, unknown> {
  const activation = json.activation_function ?? 'gelu_new';
  if (!['gelu_new', 'gelu_pytorch_tanh'].includes(activation as string)) {
    throw new Error(`${path}: field "activation_function" is ${JSON.stringify(activation)}; only gelu_new (tanh GELU) is supported`);
  }
  return {
    arch: 'gpt2',
    vocabSize: field(json, 'vocab_size', path),
    dModel: field(json, 'n_embd', path),
    nLayers: field(json, 'n_layer', path),
    nHeads: field(json, 'n_head', path),
    dFF: json.n_inner ?? undefined,
    maxSeqLen: cap(field(json, 'n_positions', path, json.n_ctx)),
    normEps: json.layer_norm_epsilon ?? 1e-5,
    tieEmbeddings: json.tie_word_embeddings ?? true,
  };
}

/** Llama, Mistral and Qwen2 configs share their field names; `arch` says which biases the layout has. */
function llamaFamilyConfig(arch: 'llama' | 'qwen2'): HFConfigReader {
  return (json, path, cap) => {
    if ((json.hidden_act ?? 'silu') !== 'silu') throw new Error(`${path}: field "hidden_act" is ${JSON.stringify(json.hidden_act)}; only silu is supported`);
    if (json.rope_scaling) throw new Error(`${path}: field "rope_scaling" is set; scaled rotary embeddings are not supported`);
    if (json.attention_bias || json.mlp_bias) throw new Error(`${path}: field "attention_bias"/"mlp_bias" is true; biased Llama layers are not supported`);
    const hidden = field(json, 'hidden_size', path) as number;
    const heads = field(json, 'num_attention_heads', path) as number;
    if (json.head_dim !== undefined && json.head_dim !== null && json.head_dim !== hidden / heads) {
      throw new Error(`${path}: field "head_dim" (${json.head_dim}) must equal hidden_size / num_attention_heads (${hidden / heads})`);
    }
    const maxSeqLen = cap(field(json, 'max_position_embeddings', path)) as number;
    // Mistral's window is `sliding_window` alone; Qwen2 turns its window on with `use_sliding_window`.
    const window = json.model_type === 'qwen2' ? (json.use_sliding_window ? json.sliding_window : null) : json.sliding_window;
    if (typeof window === 'number' && window < maxSeqLen) {
      throw new Error(`${path}: field "sliding_window" (${window}) is shorter than the context (${maxSeqLen}); sliding-window attention is not supported (cap the context at ${window})`);
    }
    return {
      arch,
      vocabSize: field(json, 'vocab_size', path),
      dModel: hidden,
      nLayers: field(json, 'num_hidden_layers', path),
      nHeads: heads,
      nKvHeads: json.num_key_value_heads ?? heads,
      dFF: field(json, 'intermediate_size', path),
      maxSeqLen,
      normEps: json.rms_norm_eps ?? 1e-6,
      ropeTheta: json.rope_theta ?? 10000,
      tieEmbeddings: json.tie_word_embeddings ?? arch === 'qwen2',
    };
  };
}

/** Config readers by HF `model_type`: the decoder families this library runs. */
const HF_CONFIG_READERS: Record<string, HFConfigReader> = {
  gpt2: gpt2Config,
  llama: llamaFamilyConfig('llama'),
  mistral: llamaFamilyConfig('llama'),
  qwen2: llamaFamilyConfig('qwen2'),
};

/** The HF `model_type` values {@link configFromHF} reads. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = Object.keys(HF_CONFIG_READERS);

/**
 * Our model config from a HF config.json (model_type gpt2, llama, mistral without a sliding window, or qwen2);
 * `maxSeqLen` caps the context.
 */
export function configFromHF(json: Record<string, unknown>, path: string, maxSeqLen?: number): ResolvedModelConfig {
  const cap = (n: unknown) => (maxSeqLen !== undefined && typeof n === 'number' ? Math.min(n, maxSeqLen) : n);
  const read = Object.hasOwn(HF_CONFIG_READERS, String(json.model_type)) ? HF_CONFIG_READERS[String(json.model_type)] : undefined;
  if (!read) throw new Error(`${path}: field "model_type" is ${JSON.stringify(json.model_type)}; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  const config = read(json, path, cap);
  return validateModelConfig(Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)), path);
}

function configToHF(config: ResolvedModelConfig): Record<string, unknown> {
  if (config.arch === 'gpt2') {
    return {
      model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: config.vocabSize, n_embd: config.dModel,
      n_layer: config.nLayers, n_head: config.nHeads, n_inner: config.dFF, n_positions: config.maxSeqLen,
      n_ctx: config.maxSeqLen, layer_norm_epsilon: config.normEps, activation_function: 'gelu_new', tie_word_embeddings: config.tieEmbeddings,
    };
  }
  const shared = {
    vocab_size: config.vocabSize, hidden_size: config.dModel, num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads, num_key_value_heads: config.nKvHeads, intermediate_size: config.dFF,
    max_position_embeddings: config.maxSeqLen, rms_norm_eps: config.normEps, rope_theta: config.ropeTheta,
    tie_word_embeddings: config.tieEmbeddings, hidden_act: 'silu', rope_scaling: null,
  };
  if (config.arch === 'qwen2') return { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], ...shared, use_sliding_window: false };
  return { model_type: 'llama', architectures: ['LlamaForCausalLM'], ...shared, attention_bias: false, mlp_bias: false };
}

// --- parameter names -------------------------------------------------------------------------------------

/** How one HF tensor maps to native tensors: `split` cuts columns (c_attn), `transpose` flips [out, in]. */
interface Mapping {
  hf: string;
  native: string[];
  transpose?: boolean;
}

/** The output projection's name in every layout (an nn.Linear, [vocab, d]; outside GPT-2's `transformer.`). */
const LM_HEAD = 'lm_head.weight';

function mappings(config: ResolvedModelConfig): Mapping[] {
  const out: Mapping[] = [];
  if (config.arch === 'gpt2') {
    out.push({ hf: 'wte.weight', native: ['tok_emb'] }, { hf: 'wpe.weight', native: ['pos_emb'] });
    for (let i = 0; i < config.nLayers; i++) {
      const h = `h.${i}.`;
      const n = `layers.${i}.`;
      out.push(
        { hf: `${h}ln_1.weight`, native: [`${n}ln1.g`] }, { hf: `${h}ln_1.bias`, native: [`${n}ln1.b`] },
        { hf: `${h}attn.c_attn.weight`, native: [`${n}attn.wq`, `${n}attn.wk`, `${n}attn.wv`] },
        { hf: `${h}attn.c_attn.bias`, native: [`${n}attn.bq`, `${n}attn.bk`, `${n}attn.bv`] },
        { hf: `${h}attn.c_proj.weight`, native: [`${n}attn.wo`] }, { hf: `${h}attn.c_proj.bias`, native: [`${n}attn.bo`] },
        { hf: `${h}ln_2.weight`, native: [`${n}ln2.g`] }, { hf: `${h}ln_2.bias`, native: [`${n}ln2.b`] },
        { hf: `${h}mlp.c_fc.weight`, native: [`${n}mlp.w_in`] }, { hf: `${h}mlp.c_fc.bias`, native: [`${n}mlp.b_in`] },
        { hf: `${h}mlp.c_proj.weight`, native: [`${n}mlp.w_out`] }, { hf: `${h}mlp.c_proj.bias`, native: [`${n}mlp.b_out`] },
      );
    }
    out.push({ hf: 'ln_f.weight', native: ['ln_f.g'] }, { hf: 'ln_f.bias', native: ['ln_f.b'] });
    if (!config.tieEmbeddings) out.push({ hf: LM_HEAD, native: ['lm_head'], transpose: true });
    return out;
  }
  out.push({ hf: 'model.embed_tokens.weight', native: ['tok_emb'] });
  for (let i = 0; i < config.nLayers; i++) {
    const h = `model.layers.${i}.`;
    const n = `layers.${i}.`;
    const linear = (hf: string, native: string): Mapping => ({ hf: `${h}${hf}.weight`, native: [`${n}${native}`], transpose: true });
    const bias = (hf: string, native: string): Mapping[] => (hasQKVBias(config.arch) ? [{ hf: `${h}${hf}.bias`, native: [`${n}${native}`] }] : []);
    out.push(
      { hf: `${h}input_layernorm.weight`, native: [`${n}ln1.g`] },
      linear('self_attn.q_proj', 'attn.wq'), ...bias('self_attn.q_proj', 'attn.bq'),
      linear('self_attn.k_proj', 'attn.wk'), ...bias('self_attn.k_proj', 'attn.bk'),
      linear('self_attn.v_proj', 'attn.wv'), ...bias('self_attn.v_proj', 'attn.bv'),
      linear('self_attn.o_proj', 'attn.wo'),
      { hf: `${h}post_attention_layernorm.weight`, native: [`${n}ln2.g`] },
      linear('mlp.gate_proj', 'mlp.w_gate'), linear('mlp.up_proj', 'mlp.w_up'), linear('mlp.down_proj', 'mlp.w_out'),
    );
  }
  out.push({ hf: 'model.norm.weight', native: ['ln_f.g'] });
  if (!config.tieEmbeddings) out.push({ hf: LM_HEAD, native: ['lm_head'], transpose: true });
  return out;
}

/** Buffers HF files may carry that are not parameters (GPT-2's causal mask, old rotary caches) or are tied copies. */
function ignorable(name: string, config: ResolvedModelConfig): boolean {
  return /\.attn\.(masked_)?bias$/.test(name) || name.endsWith('rotary_emb.inv_freq') || (config.tieEmbeddings && name === LM_HEAD);
}

/** Native weights from HF tensors; `source` names the file(s) in errors. */
export function weightsFromHF(config: ResolvedModelConfig, tensors: Map<string, Tensor>, source: string): WeightArrays {
  // GPT-2 files from save_pretrained carry a `transformer.` prefix; the hub's original ones do not
  const strip = config.arch === 'gpt2' ? (name: string) => name.replace(/^transformer\./, '') : (name: string) => name;
  const byName = new Map([...tensors].map(([name, t]) => [strip(name), t]));
  const out: WeightArrays = new Map();
  const used = new Set<string>();
  for (const { hf, native, transpose: flip } of mappings(config)) {
    const found = byName.get(hf);
    if (!found) throw new Error(`${source}: tensor "${hf}" is missing`);
    used.add(hf);
    const tensor = flip ? transpose(found) : found;
    if (native.length === 1) {
      out.set(native[0], tensor);
      continue;
    }
    const width = tensor.shape[tensor.shape.length - 1] / native.length;
    if (!Number.isInteger(width)) throw new Error(`${source}: tensor "${hf}" of shape [${found.shape.join(', ')}] cannot hold ${native.length} equal parts`);
    native.forEach((name, k) => out.set(name, columns(tensor, k * width, width)));
  }
  const extra = [...byName.keys()].find((name) => !used.has(name) && !ignorable(name, config));
  if (extra !== undefined) throw new Error(`${source}: unexpected tensor "${extra}" for a ${config.arch} model`);
  return out;
}

/** HF tensors from native weights (value head left out: HF has none). */
export function weightsToHF(config: ResolvedModelConfig, weights: WeightArrays): Map<string, Tensor> {
  const prefix = config.arch === 'gpt2' ? 'transformer.' : '';
  const out = new Map<string, Tensor>();
  for (const { hf, native, transpose: flip } of mappings(config)) {
    const joined = native.length === 1 ? weights.get(native[0])! : concatColumns(native.map((name) => weights.get(name)!));
    out.set(hf === LM_HEAD ? hf : prefix + hf, flip ? transpose(joined) : joined);
  }
  return out;
}

// --- files -----------------------------------------------------------------------------------------------

/** All tensors of a HF folder: model.safetensors, or the shards listed in model.safetensors.index.json. */
export function readHFTensors(dir: string): { tensors: Map<string, Tensor>; source: string } {
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(single)) files = [single];
  else if (existsSync(indexPath)) {
    const weightMap = readJsonObject(indexPath).weight_map;
    if (typeof weightMap !== 'object' || weightMap === null) throw new Error(`${indexPath}: field "weight_map" must be an object`);
    files = [...new Set(Object.values(weightMap as Record<string, string>))].map((f) => join(dir, f));
  } else {
    throw new Error(`${dir}: no weights file (model.safetensors or model.safetensors.index.json); PyTorch .bin files are not read, convert them to safetensors`);
  }
  const tensors = new Map<string, Tensor>();
  for (const file of files) {
    if (!existsSync(file)) throw new Error(`${file}: weights file is missing`);
    for (const [name, t] of readSafetensors(file)) {
      if (!(t.data instanceof Float32Array)) throw new Error(`${file}: tensor "${name}" has integer dtype ${t.dtype}; weights must be float`);
      tensors.set(name, { shape: t.shape, data: t.data });
    }
  }
  return { tensors, source: files.length === 1 ? files[0] : `${dir} (${files.length} shards)` };
}

/** Options of {@link importHFCheckpoint} (and of loadCheckpoint for Hugging Face folders). */
export interface LoadOptions {
  /** Cap on the context (and on the size of the rotary/position tables); default the config's. */
  maxSeqLen?: number;
  /** Seed of the freshly initialised value head. */
  seed?: number;
}

/** Sampling defaults a generation_config.json declares (do_sample false = greedy). */
export type GenerationDefaults = SamplingOptions & { maxNewTokens?: number };

/** What {@link importHFCheckpoint} returns: the tokenizer when the folder has a tokenizer.json. */
export interface ImportedCheckpoint {
  model: CausalLM;
  tokenizer?: Tokenizer;
  /** From generation_config.json, when present. */
  generation?: GenerationDefaults;
}

/** The sampling fields of generation_config.json (its token ids are read with the tokenizer). */
function readGenerationConfig(path: string): GenerationDefaults {
  const json = readJsonObject(path);
  const number = (name: string, check: (n: number) => boolean, what: string): number | undefined => {
    const value = json[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !check(value)) throw new Error(`${path}: field "${name}" must be ${what}, got ${JSON.stringify(value)}`);
    return value;
  };
  const defaults: GenerationDefaults = {
    temperature: number('temperature', (n) => n >= 0, 'a number >= 0'),
    topK: number('top_k', (n) => Number.isSafeInteger(n) && n >= 0, 'an integer >= 0'),
    topP: number('top_p', (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    maxNewTokens: number('max_new_tokens', (n) => Number.isSafeInteger(n) && n > 0, 'a positive integer'),
  };
  if (defaults.topK === 0) delete defaults.topK; // transformers: top_k 0 turns the filter off
  if (json.do_sample === false) defaults.greedy = true;
  return Object.fromEntries(Object.entries(defaults).filter(([, v]) => v !== undefined)) as GenerationDefaults;
}

/**
 * Loads a HF GPT-2, Llama/Mistral or Qwen2 folder (e.g. distilgpt2, SmolLM2-135M, Qwen2.5-0.5B): config.json,
 * model.safetensors (F32, F16 or BF16, possibly sharded), and if present tokenizer.json (with
 * tokenizer_config.json and the special-token ids of config.json / generation_config.json) and
 * generation_config.json's sampling defaults. The value head starts fresh from `seed`.
 */
export async function importHFCheckpoint(dir: string, options: LoadOptions = {}): Promise<ImportedCheckpoint> {
  const configPath = join(dir, 'config.json');
  const config = configFromHF(readJsonObject(configPath), configPath, options.maxSeqLen);
  const { tensors, source } = readHFTensors(dir);
  const weights = weightsFromHF(config, tensors, source);
  if (config.arch === 'gpt2') {
    const positions = weights.get('pos_emb')!;
    if (positions.shape[0] > config.maxSeqLen) weights.set('pos_emb', { shape: [config.maxSeqLen, config.dModel], data: positions.data.slice(0, config.maxSeqLen * config.dModel) });
  }
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : undefined;
  if (tokenizer) checkTokenizerFits(tokenizer, config, join(dir, 'tokenizer.json'));
  const generationPath = join(dir, 'generation_config.json');
  const generation = existsSync(generationPath) ? readGenerationConfig(generationPath) : undefined;
  const model = CausalLM.fromWeights(config, weights, source, { seed: options.seed });
  return { model, tokenizer, generation };
}

/** config.json's special-token ids from the tokenizer (every stop id as `eos_token_id` when there are several). */
function specialIds(tokenizer: Tokenizer): Record<string, unknown> {
  const stops = tokenizer.stopIds ?? [tokenizer.eosId];
  return { bos_token_id: tokenizer.bosId ?? null, eos_token_id: stops.length > 1 ? stops : tokenizer.eosId, pad_token_id: tokenizer.padId };
}

/**
 * Writes a folder Hugging Face transformers and tokenizers load as is, atomically: config.json (with the
 * tokenizer's bos/eos/pad ids), model.safetensors (F32; `lm_head.weight` when the head is untied), and the
 * tokenizer as tokenizer.json + tokenizer_config.json (see saveAsHFTokenizer: this library's char, byte and
 * word-char tokenizers become BPE files giving the same ids) with generation_config.json's special ids. A LoRA
 * adapter on the model is merged into the weights written.
 */
export async function exportHFCheckpoint(dir: string, model: CausalLM, tokenizer?: Tokenizer): Promise<void> {
  const tensors = weightsToHF(model.config, await mergedArrays(model));
  await writeFolderAtomic(dir, async (temp) => {
    const ids = tokenizer ? specialIds(tokenizer) : {};
    writeJsonAtomic(join(temp, 'config.json'), { ...configToHF(model.config), ...ids, torch_dtype: 'float32' });
    writeSafetensors(join(temp, 'model.safetensors'), Object.fromEntries(tensors), { format: 'pt' });
    if (tokenizer) {
      await saveAsHFTokenizer(tokenizer, temp);
      writeJsonAtomic(join(temp, 'generation_config.json'), ids);
    }
  });
}

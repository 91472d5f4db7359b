/**
 * Hugging Face T5 folders (T5ForConditionalGeneration: t5-small, google/t5-v1_1-*, google/flan-t5-*) mapped to
 * and from the native names of {@link T5Model}. HF names: `shared.weight`; per block
 * `{encoder,decoder}.block.N.layer.M.` with layer 0 `SelfAttention.{q,k,v,o}`, in the decoder layer 1
 * `EncDecAttention.{q,k,v,o}`, and the last layer `DenseReluDense.{wi | wi_0, wi_1, wo}`, each with its
 * `layer_norm`; `block.0.layer.0.SelfAttention.relative_attention_bias` (one table per stack);
 * `{encoder,decoder}.final_layer_norm`; `lm_head` unless tied. nn.Linear weights are [out, in] and are
 * transposed; the embedding and the bias tables are not.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { loadTokenizer } from '../tokenizer/load';
import { asObject, readJsonFile } from '../tokenizer/json-file';
import type { Tokenizer } from '../tokenizer/types';
import type { WeightArrays } from './causal-lm';
import { writeFolderAtomic } from './folder';
import { mergedArrays } from './lora';
import { saveAsHFTokenizer } from '../tokenizer/hf-export';
import { readHFTensors, transpose } from './hf';
import { writeSafetensors } from './safetensors';
import { T5Model } from './t5';
import { type ResolvedT5Config, t5WeightShapes, validateT5Config } from './t5-config';

type Tensor = { shape: number[]; data: Float32Array };

/** Longest source/target when the caller names none: the length T5 was pre-trained on. */
const DEFAULT_T5_MAX_SEQ_LEN = 512;

function field(json: Record<string, unknown>, name: string, path: string): unknown {
  if (json[name] === undefined || json[name] === null) throw new Error(`${path}: field "${name}" is missing`);
  return json[name];
}

/** Our T5 config from a HF config.json (model_type t5); `maxSeqLen` bounds sources and targets (default 512). */
export function t5ConfigFromHF(json: Record<string, unknown>, path: string, maxSeqLen = DEFAULT_T5_MAX_SEQ_LEN): ResolvedT5Config {
  if (json.model_type !== 't5') throw new Error(`${path}: field "model_type" is ${JSON.stringify(json.model_type)}; expected "t5"`);
  const projection = json.feed_forward_proj ?? 'relu';
  // HF reads "gated-gelu" as gelu_new gating (the tanh GELU); "relu" is v1.0's dense feed-forward
  if (projection !== 'relu' && projection !== 'gated-gelu') {
    throw new Error(`${path}: field "feed_forward_proj" is ${JSON.stringify(projection)}; supported: relu, gated-gelu`);
  }
  return validateT5Config({
    arch: 't5',
    vocabSize: field(json, 'vocab_size', path),
    dModel: field(json, 'd_model', path),
    dKv: field(json, 'd_kv', path),
    dFF: field(json, 'd_ff', path),
    nLayers: field(json, 'num_layers', path),
    nDecoderLayers: json.num_decoder_layers ?? json.num_layers,
    nHeads: field(json, 'num_heads', path),
    relativeBuckets: json.relative_attention_num_buckets ?? 32,
    relativeMaxDistance: json.relative_attention_max_distance ?? 128,
    maxSeqLen,
    normEps: json.layer_norm_epsilon ?? 1e-6,
    feedForward: projection,
    tieEmbeddings: json.tie_word_embeddings ?? true, // HF's T5Config default
    decoderStartId: json.decoder_start_token_id ?? 0,
  }, path);
}

/** A HF config.json for a native T5 config. */
export function t5ConfigToHF(config: ResolvedT5Config): Record<string, unknown> {
  return {
    model_type: 't5', architectures: ['T5ForConditionalGeneration'], is_encoder_decoder: true,
    vocab_size: config.vocabSize, d_model: config.dModel, d_kv: config.dKv, d_ff: config.dFF, num_heads: config.nHeads,
    num_layers: config.nLayers, num_decoder_layers: config.nDecoderLayers,
    relative_attention_num_buckets: config.relativeBuckets, relative_attention_max_distance: config.relativeMaxDistance,
    layer_norm_epsilon: config.normEps, feed_forward_proj: config.feedForward, tie_word_embeddings: config.tieEmbeddings,
    decoder_start_token_id: config.decoderStartId, dense_act_fn: config.feedForward === 'relu' ? 'relu' : 'gelu_new',
    is_gated_act: config.feedForward === 'gated-gelu',
  };
}

/** One HF tensor and its native name; `transpose` for nn.Linear weights ([out, in] there, [in, out] here). */
interface T5Mapping {
  hf: string;
  native: string;
  transpose: boolean;
}

function t5Mappings(config: ResolvedT5Config): T5Mapping[] {
  const out: T5Mapping[] = [{ hf: 'shared.weight', native: 'shared', transpose: false }];
  const linear = (hf: string, native: string) => out.push({ hf: `${hf}.weight`, native, transpose: true });
  const norm = (hf: string, native: string) => out.push({ hf: `${hf}.weight`, native: `${native}.g`, transpose: false });
  const attention = (hf: string, native: string) => {
    for (const [h, n] of [['q', 'wq'], ['k', 'wk'], ['v', 'wv'], ['o', 'wo']]) linear(`${hf}.${h}`, `${native}.${n}`);
  };
  for (const stack of ['encoder', 'decoder'] as const) {
    out.push({ hf: `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, native: `${stack}.rel_bias`, transpose: false });
    const layers = stack === 'encoder' ? config.nLayers : config.nDecoderLayers;
    for (let i = 0; i < layers; i++) {
      const h = `${stack}.block.${i}.layer`;
      const n = `${stack}.layers.${i}`;
      norm(`${h}.0.layer_norm`, `${n}.ln_self`);
      attention(`${h}.0.SelfAttention`, `${n}.self`);
      if (stack === 'decoder') {
        norm(`${h}.1.layer_norm`, `${n}.ln_cross`);
        attention(`${h}.1.EncDecAttention`, `${n}.cross`);
      }
      const ff = `${h}.${stack === 'decoder' ? 2 : 1}`;
      norm(`${ff}.layer_norm`, `${n}.ln_ff`);
      if (config.feedForward === 'relu') linear(`${ff}.DenseReluDense.wi`, `${n}.ff.w_in`);
      else (linear(`${ff}.DenseReluDense.wi_0`, `${n}.ff.w_gate`), linear(`${ff}.DenseReluDense.wi_1`, `${n}.ff.w_up`));
      linear(`${ff}.DenseReluDense.wo`, `${n}.ff.w_out`);
    }
    norm(`${stack}.final_layer_norm`, `${stack}.ln_f`);
  }
  if (!config.tieEmbeddings) linear('lm_head', 'lm_head');
  return out;
}

/** Copies of `shared.weight` that HF files may also carry (the stacks' embeddings, a tied head). */
function ignorable(name: string, config: ResolvedT5Config): boolean {
  return name === 'encoder.embed_tokens.weight' || name === 'decoder.embed_tokens.weight' || (config.tieEmbeddings && name === 'lm_head.weight');
}

/** Native T5 weights from HF tensors; `source` names the file(s) in errors. */
export function t5WeightsFromHF(config: ResolvedT5Config, tensors: Map<string, Tensor>, source: string): WeightArrays {
  const out: WeightArrays = new Map();
  const used = new Set<string>();
  const shapes = t5WeightShapes(config);
  for (const { hf, native, transpose: flip } of t5Mappings(config)) {
    const found = tensors.get(hf);
    if (!found) throw new Error(`${source}: tensor "${hf}" is missing`);
    const want = flip ? [...shapes.get(native)!].reverse() : shapes.get(native)!;
    if (found.shape.join(',') !== want.join(',')) {
      throw new Error(`${source}: tensor "${hf}" has shape [${found.shape.join(', ')}] but config.json needs [${want.join(', ')}]`);
    }
    used.add(hf);
    out.set(native, flip ? transpose(found) : found);
  }
  const extra = [...tensors.keys()].find((name) => !used.has(name) && !ignorable(name, config));
  if (extra !== undefined) throw new Error(`${source}: unexpected tensor "${extra}" for a t5 model`);
  return out;
}

/** HF tensors from native T5 weights (the value head left out: HF has none). */
export function t5WeightsToHF(config: ResolvedT5Config, weights: WeightArrays): Map<string, Tensor> {
  return new Map(t5Mappings(config).map(({ hf, native, transpose: flip }) => [hf, flip ? transpose(weights.get(native)!) : weights.get(native)!]));
}

/** Whether `dir`'s config.json describes a Hugging Face T5 model (`model_type` t5). */
export function isT5Folder(dir: string): boolean {
  const path = join(dir, 'config.json');
  return existsSync(path) && asObject(readJsonFile(path), path).model_type === 't5';
}

/**
 * Loads a HF T5 folder: config.json, model.safetensors (F32, F16 or BF16, possibly sharded) and tokenizer.json if
 * present. `maxSeqLen` bounds sources and targets (default 512); the value head starts fresh from `seed`.
 */
export async function importT5Checkpoint(dir: string, options: { maxSeqLen?: number; seed?: number } = {}): Promise<{ model: T5Model; tokenizer?: Tokenizer }> {
  const configPath = join(dir, 'config.json');
  const config = t5ConfigFromHF(asObject(readJsonFile(configPath), configPath), configPath, options.maxSeqLen);
  const { tensors, source } = readHFTensors(dir);
  const model = T5Model.fromWeights(config, t5WeightsFromHF(config, tensors, source), source, { seed: options.seed });
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : undefined;
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    model.dispose();
    throw new Error(`${join(dir, 'tokenizer.json')}: tokenizer vocabSize ${tokenizer.vocabSize} exceeds the model's vocab_size ${config.vocabSize}`);
  }
  return { model, tokenizer };
}

/**
 * Writes a HF T5 folder, atomically: config.json (with the tokenizer's pad and EOS ids), model.safetensors (F32,
 * a LoRA adapter on the model merged in) and, when given, the tokenizer as tokenizer.json + tokenizer_config.json
 * (see saveAsHFTokenizer: this library's char, byte and word-char tokenizers become files giving the same ids).
 */
export async function exportT5Checkpoint(dir: string, model: T5Model, tokenizer?: Tokenizer): Promise<void> {
  const tensors = t5WeightsToHF(model.config, await mergedArrays(model));
  await writeFolderAtomic(dir, async (temp) => {
    const ids = tokenizer ? { pad_token_id: tokenizer.padId, eos_token_id: tokenizer.eosId } : {};
    writeJsonAtomic(join(temp, 'config.json'), { ...t5ConfigToHF(model.config), ...ids });
    writeSafetensors(join(temp, 'model.safetensors'), Object.fromEntries(tensors), { format: 'pt' });
    if (tokenizer) await saveAsHFTokenizer(tokenizer, temp);
  });
}

/**
 * Checkpoint folders: `config.json` (format tag + ModelConfig), `model.safetensors` (LM and value head weights by
 * native name, float32), the tokenizer's file(s) (with `generation_config.json` `eos_token_id` when it stops on more
 * than its EOS, e.g. Llama 3's [128001, 128008, 128009]), and for resuming `optimizer.safetensors` (optimizer slots,
 * step in the metadata) + `trainer_state.json` (anything else: schedule, RNG state). The folder is written under
 * a temporary name beside the target and renamed into place, so a reader never sees half a checkpoint.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { loadTokenizer } from '../tokenizer/load';
import type { Tokenizer } from '../tokenizer/types';
import { CausalLM, type WeightArrays } from './causal-lm';
import { type ResolvedModelConfig, validateModelConfig } from './config';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors';
import { asObject, readJsonFile } from '../tokenizer/json-file';
import { checkTokenizerFits, recoverInterruptedWrite, writeFolderAtomic } from './folder';
import { importHFCheckpoint, type GenerationDefaults, type LoadOptions } from './hf';
import { LoraAdapter } from './lora';

/** Value of `format` in a checkpoint's config.json. */
export const CHECKPOINT_FORMAT = 'rationale-rl/causal-lm';
/** Version of the checkpoint layout written by this code. */
export const CHECKPOINT_VERSION = 1;

/**
 * Subfolder of a checkpoint holding the model's LoRA adapter in PEFT's layout (adapter_config.json +
 * adapter_model.safetensors); model.safetensors then holds the frozen base weights, and loading re-attaches it.
 */
export const ADAPTER_FOLDER = 'adapter';

/** An optimizer's resumable state: its step count and named slot tensors (e.g. AdamW's `m.<name>`, `v.<name>`). */
export interface OptimizerState {
  step: number;
  slots: WeightArrays;
}

/** Anything whose state a checkpoint can hold (see AdamW in lib/train). */
export interface HasOptimizerState {
  getState(): Promise<OptimizerState>;
}

/** What {@link saveCheckpoint} writes. */
export interface CheckpointContents {
  model: CausalLM;
  tokenizer: Tokenizer;
  optimizer?: HasOptimizerState;
  /** Trainer state (step, schedule, RNG state, ...) written as trainer_state.json. */
  extra?: Record<string, unknown>;
}

/** What {@link loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  model: CausalLM;
  tokenizer: Tokenizer;
  optimizerState?: OptimizerState;
  extra?: Record<string, unknown>;
  /** Sampling defaults of a Hugging Face folder's generation_config.json. */
  generation?: GenerationDefaults;
}


function toRecord(arrays: WeightArrays): Record<string, { shape: number[]; data: Float32Array }> {
  return Object.fromEntries(arrays);
}

/** Saves a model, its tokenizer and optionally optimizer/trainer state to `dir` (atomically). */
export async function saveCheckpoint(dir: string, contents: CheckpointContents): Promise<void> {
  const { model, tokenizer, optimizer, extra } = contents;
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new Error(`saveCheckpoint ${dir}: tokenizer vocabSize ${tokenizer.vocabSize} exceeds the model's vocabSize ${model.config.vocabSize}`);
  }
  const weights = await model.toArrays();
  const adapter = model.adapter instanceof LoraAdapter ? model.adapter : undefined;
  const optimizerState = optimizer && (await optimizer.getState());
  await writeFolderAtomic(dir, async (temp) => {
    writeJsonAtomic(join(temp, 'config.json'), { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, model: model.config });
    writeSafetensors(join(temp, 'model.safetensors'), toRecord(weights), { format: CHECKPOINT_FORMAT });
    await tokenizer.save(temp);
    const stopIds = tokenizer.stopIds ?? [tokenizer.eosId];
    // read back by loadTokenizer with the tokenizer's files, as from a Hugging Face folder
    if (stopIds.length > 1 || stopIds[0] !== tokenizer.eosId) writeJsonAtomic(join(temp, 'generation_config.json'), { eos_token_id: stopIds });
    if (optimizerState) writeSafetensors(join(temp, 'optimizer.safetensors'), toRecord(optimizerState.slots), { step: String(optimizerState.step) });
    if (extra) writeJsonAtomic(join(temp, 'trainer_state.json'), extra);
    if (adapter) await adapter.save(join(temp, ADAPTER_FOLDER));
  });
}

/** Reads `config.json` of a checkpoint folder and validates its model config. */
export function readCheckpointConfig(dir: string): ResolvedModelConfig {
  const path = join(dir, 'config.json');
  const json = readJsonFile(path) as Record<string, unknown> | null;
  if (typeof json !== 'object' || json === null || json.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${path}: field "format" must be "${CHECKPOINT_FORMAT}" (a Hugging Face config.json has "model_type" instead)`);
  }
  if (json.version !== CHECKPOINT_VERSION) throw new Error(`${path}: field "version" is ${JSON.stringify(json.version)}; this code reads version ${CHECKPOINT_VERSION}`);
  return validateModelConfig(json.model, `${path} (field "model")`);
}

function readWeights(path: string): WeightArrays {
  if (!existsSync(path)) throw new Error(`${path}: weights file is missing`);
  const out: WeightArrays = new Map();
  for (const [name, tensor] of readSafetensors(path)) {
    if (!(tensor.data instanceof Float32Array)) throw new Error(`${path}: tensor "${name}" has integer dtype ${tensor.dtype}; weights must be float`);
    out.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return out;
}

/**
 * Loads a checkpoint folder of either format: this library's own (written by {@link saveCheckpoint}; weights come
 * back bit-exact, with optimizer and trainer state when saved) or a Hugging Face one (config.json with
 * `model_type`, see {@link importHFCheckpoint}; it must hold its tokenizer). `options` apply to Hugging Face folders:
 * `maxSeqLen` caps the context, `seed` draws the fresh value head.
 */
export async function loadCheckpoint(dir: string, options: LoadOptions = {}): Promise<LoadedCheckpoint> {
  recoverInterruptedWrite(resolve(dir));
  const configPath = join(dir, 'config.json');
  const json = asObject(readJsonFile(configPath), configPath);
  if (json.format === undefined && json.model_type !== undefined) {
    const { model, tokenizer, generation } = await importHFCheckpoint(dir, options);
    if (!tokenizer) {
      model.dispose();
      throw new Error(`${join(dir, 'tokenizer.json')}: file is missing (a Hugging Face folder needs its tokenizer)`);
    }
    return { model, tokenizer, generation };
  }
  const config = readCheckpointConfig(dir);
  const tokenizer = loadTokenizer(dir);
  checkTokenizerFits(tokenizer, config, join(dir, 'tokenizer.json'));
  const weightsPath = join(dir, 'model.safetensors');
  const model = CausalLM.fromWeights(config, readWeights(weightsPath), weightsPath);
  if (existsSync(join(dir, ADAPTER_FOLDER, 'adapter_config.json'))) {
    try {
      LoraAdapter.load(join(dir, ADAPTER_FOLDER), model);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  const optimizerPath = join(dir, 'optimizer.safetensors');
  let optimizerState: OptimizerState | undefined;
  if (existsSync(optimizerPath)) {
    const step = Number(readSafetensorsHeader(optimizerPath).metadata.step);
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`${optimizerPath}: metadata "step" must be a non-negative integer`);
    optimizerState = { step, slots: readWeights(optimizerPath) };
  }
  const statePath = join(dir, 'trainer_state.json');
  const extra = existsSync(statePath) ? (readJsonFile(statePath) as Record<string, unknown>) : undefined;
  return { model, tokenizer, optimizerState, extra };
}

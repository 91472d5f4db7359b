/**
 * Checkpoint folders: `config.json` (format tag + ModelConfig), `model.safetensors` (LM and value head weights by
 * native name, float32), the tokenizer's file(s), and for resuming `optimizer.safetensors` (optimizer slots,
 * step in the metadata) + `trainer_state.json` (anything else: schedule, RNG state). The folder is written under
 * a temporary name beside the target and renamed into place, so a reader never sees half a checkpoint.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeJsonAtomic } from '../fs';
import { loadTokenizer } from '../tokenizer/load';
import type { Tokenizer } from '../tokenizer/types';
import { CausalLM, type WeightArrays } from './causal-lm';
import { type ResolvedModelConfig, validateModelConfig } from './config';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors';
import { readJsonFile } from '../tokenizer/json-file';

/** Value of `format` in a checkpoint's config.json. */
export const CHECKPOINT_FORMAT = 'rationale-rl/causal-lm';
/** Version of the checkpoint layout written by this code. */
export const CHECKPOINT_VERSION = 1;

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
}


function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Clears what a writer killed in the middle of {@link writeFolderAtomic} left beside `target` (names end in
 * `-<pid>-<time>`): a kill between the swap's two renames leaves no `target` but its previous version as `.old-`,
 * which is put back; temporary folders of writers no longer running are removed.
 */
function recoverInterruptedWrite(target: string): void {
  const parent = dirname(target);
  const prefixes = [`.${basename(target)}.tmp-`, `.${basename(target)}.old-`];
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent).filter((n) => prefixes.some((p) => n.startsWith(p)))) {
    const pid = Number(/-(\d+)-\d+$/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isRunning(pid)) continue;
    if (name.startsWith(prefixes[1]) && !existsSync(target)) renameSync(join(parent, name), target);
    else rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Writes `write(temp)` into a fresh sibling folder, then swaps it in for `dir`. */
export async function writeFolderAtomic(dir: string, write: (temp: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  recoverInterruptedWrite(target);
  const stamp = `${process.pid}-${Date.now()}`;
  const temp = join(dirname(target), `.${basename(target)}.tmp-${stamp}`);
  try {
    await write(temp);
    if (existsSync(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${stamp}`);
      renameSync(target, old);
      renameSync(temp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(temp, target);
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
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
  const optimizerState = optimizer && (await optimizer.getState());
  await writeFolderAtomic(dir, async (temp) => {
    writeJsonAtomic(join(temp, 'config.json'), { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, model: model.config });
    writeSafetensors(join(temp, 'model.safetensors'), toRecord(weights), { format: CHECKPOINT_FORMAT });
    await tokenizer.save(temp);
    if (optimizerState) writeSafetensors(join(temp, 'optimizer.safetensors'), toRecord(optimizerState.slots), { step: String(optimizerState.step) });
    if (extra) writeJsonAtomic(join(temp, 'trainer_state.json'), extra);
  });
}

/** Reads `config.json` of a checkpoint folder and validates its model config. */
export function readCheckpointConfig(dir: string): ResolvedModelConfig {
  const path = join(dir, 'config.json');
  const json = readJsonFile(path) as Record<string, unknown> | null;
  if (typeof json !== 'object' || json === null || json.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${path}: field "format" must be "${CHECKPOINT_FORMAT}" (for a Hugging Face folder use importHFCheckpoint)`);
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

/** Checks that every id the tokenizer can produce has a row in the model's embedding. */
export function checkTokenizerFits(tokenizer: Tokenizer, config: ResolvedModelConfig, where: string): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(`${where}: tokenizer vocabSize ${tokenizer.vocabSize} is larger than the model config's vocabSize ${config.vocabSize}`);
  }
}

/** Loads a folder written by {@link saveCheckpoint}; weights come back bit-exact. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  recoverInterruptedWrite(resolve(dir));
  const config = readCheckpointConfig(dir);
  const tokenizer = loadTokenizer(dir);
  checkTokenizerFits(tokenizer, config, join(dir, 'tokenizer.json'));
  const weightsPath = join(dir, 'model.safetensors');
  const model = CausalLM.fromWeights(config, readWeights(weightsPath), weightsPath);
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

/** The student's training mode (LoRA or full fine-tuning) and its memory check, shared by distillation and RL. */
import * as tf from '@tensorflow/tfjs';
import type { Student } from '../../model/student';
import { T5Model } from '../../model/t5';
import type { Tokenizer } from '../../tokenizer/types';
import { adapterParameterCount, defaultTargetModules, LoraAdapter, type LoraConfig } from '../../model/lora';
import { packedWeights } from '../../kernels';
import { checkMemory, describeEstimate, keepsHeadPacked, packedBudgetFor, WASM_HEAP_BYTES, type MemoryPlan } from '../../model/memory';
import { logger } from '../../log/logger';
import type { ExperimentConfig } from '../schema';

/** The `student.lora` section with its target modules resolved for the model's layout, or undefined. */
export function studentLora(config: ExperimentConfig, model: Student): LoraConfig | undefined {
  const lora = config.student.lora;
  if (!lora) return undefined;
  return { rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout, targetModules: lora.targetModules ?? defaultTargetModules(model.config) };
}

/** Attaches fresh adapters per `student.lora` (none when the section is absent or the model has its adapter). */
export function attachStudentLora(config: ExperimentConfig, model: Student): void {
  const lora = studentLora(config, model);
  if (lora && !model.adapter) LoraAdapter.attach(model, lora, { seed: config.seed, where: 'student.lora' });
}

/**
 * Sets a decoder-only model's activation recomputation and logit chunking from `student` (see the schema's fields;
 * a T5 student has neither).
 */
export function applyStudentMemorySettings(config: ExperimentConfig, model: Student): void {
  const student = config.student;
  if (model instanceof T5Model || !('gradientCheckpointing' in student)) return;
  model.gradientCheckpointing = student.gradientCheckpointing;
  model.logitChunkRows = student.logitChunkRows;
}

/**
 * Whether the student's prompts go through its chat template (`student.chatTemplate`); refuses a student whose
 * tokenizer has none, naming the field and the checkpoint.
 */
export function studentChat(config: ExperimentConfig, tokenizer: Tokenizer): boolean {
  const student = config.student;
  if (!('checkpoint' in student) || !student.chatTemplate) return false;
  if (tokenizer.chatTemplate === undefined) {
    throw new Error(`student.chatTemplate: ${student.checkpoint} has no chat template (tokenizer_config.json "chat_template"); set chatTemplate: false`);
  }
  return true;
}

/**
 * Refuses, before training, a run whose estimated peak exceeds the backend's memory (wasm's 4 GiB heap; other
 * backends have no known limit and are not checked), with the numbers and the settings that would fit; on wasm,
 * also sets how many bytes of weights keep their XNNPACK packed copies (see lib/kernels/packed-weights.ts). The
 * estimate covers decoder-only students; a T5 student is not checked.
 */
export function checkStudentMemory(stage: string, config: ExperimentConfig, model: Student, plan: Omit<MemoryPlan, 'config' | 'mode'>): void {
  if (model instanceof T5Model) return;
  const lora = studentLora(config, model);
  const mode = lora ? { kind: 'lora' as const, rank: lora.rank, parameters: adapterParameterCount(model.config, lora, 'student.lora') } : { kind: 'full' as const };
  const full: MemoryPlan = { ...plan, config: model.config, mode, gradientCheckpointing: model.gradientCheckpointing, logitChunkRows: model.logitChunkRows };
  if (tf.getBackend() !== 'wasm') return;
  // XNNPACK's packed weight copies are kept only within the heap the rest of the plan leaves
  packedWeights.budget = packedBudgetFor(full, WASM_HEAP_BYTES);
  if (keepsHeadPacked({ ...full, packedBudget: packedWeights.budget })) packedWeights.keep(model.weights.tok_emb);
  const estimate = checkMemory({ ...full, packedBudget: packedWeights.budget }, WASM_HEAP_BYTES, `${stage}: student`);
  logger.info(`estimated peak memory ${describeEstimate(estimate)}`, { stage });
}

/**
 * rationale-rl: distil chain-of-thought rationales into a small LM, refine them with PPO against pluggable
 * rewards, and use them to guide a frozen large LLM. This entry holds what the README documents, section by
 * section; everything else of an area is in its subpath (`rationale-rl/model`, `rationale-rl/rl`, ...).
 * @packageDocumentation
 */

// Backend
export { initBackend, type BackendInfo, type BackendPreference } from './backend';
export { withWasmThreads, wasmThreads } from './wasm-threads';
export { packedWeights, registerWasmKernels, setFastWasmKernels } from './kernels';

// Tokenizers
export { CharTokenizer, ByteTokenizer, WordCharTokenizer, HFTokenizer, loadTokenizer, saveAsHFTokenizer, type Tokenizer } from './tokenizer';

// Models and checkpoints
export {
  CausalLM, KVCache, generate, sampleToken, tokenLogProbs, sequenceLogProbs, validateModelConfig, type ModelConfig,
  saveCheckpoint, loadCheckpoint, importHFCheckpoint, exportHFCheckpoint,
  readSafetensors, readSafetensorsHeader, writeSafetensors,
  LoraAdapter, type LoraConfig, trainableWeights, mergedArrays, estimateMemory, estimateT5Memory, checkMemory, keepsHeadPacked, packedBudgetFor, MemoryLimitError, scoreNextTokens,
  T5Model, t5Generate, t5TargetLogProbs, importT5Checkpoint, exportT5Checkpoint,
  loadStudentCheckpoint, type StudentModel, type Student,
} from './model';

// Data
export {
  type Example, type RationaleRecord, loadDataset, loadDatasetFile, loadJsonl, splitExamples, generateSyntheticTask,
  importRationales, importRecordedRationales, readRationales, writeRationales, readJson, readJsonl, readJsonlLines, writeJsonl, appendJsonl,
  writeJsonAtomic, parseAnswer, scoreAnswer, scoreGeneration, f1, MAX_RECORD_BYTES,
} from './data';

// LLM clients and the server
export { type LLMClient, LocalLLMClient, createOpenAIClient, ReliableLLMClient, LLMError, renderChat, chatPromptFor, renderChatTemplate, startServer } from './llm';
export { InputError } from './input-error';

// Teacher
export { zeroShotCoT, fewShotCoT, rationalization, cote, crop, diverse, loadCoTDemos, offlineTeacher, generateRationales } from './teacher';

// Distillation
export {
  Trainer, AdamW, warmupCosine, clipByGlobalNorm, globalNormScale, maskedCrossEntropy, distill, selectRecords, encodeDistillSet,
  questionText, trainingTexts, encodeTrainingText, chatPrompt, chatTrainingText, Seq2SeqTrainer, encodeSeq2SeqText, seq2seqBatch,
  studentTrainer, type DistillTrainer,
} from './train';

// RL
export {
  PPOTrainer, resolvePPOConfig, type PPOConfig, type PPOTrainerState, type Rollout, gae, grpoAdvantages, rlooAdvantages, whiten,
  maskedMoments, explainedVariance, perTokenKL, shapedRewards, AdaptiveKLController, FixedKLController,
  clippedPolicyLoss, clippedValueLoss, entropyFromLogits, maskedMean, RunningMoments, scaleAndClipScores,
} from './rl';

// Judge and evaluation
export { Judge, type JudgedAnswer, predictWithStudent, accuracy, sentences } from './eval';

// Experiments
export {
  defineExperiment, validateExperiment, loadExperiment, ConfigError, runExperiment, RunInterrupted, RunStateError,
  STAGE_IMPLEMENTATIONS, RunFolder, type ExperimentConfig, type ExperimentInput,
} from './experiment';

// Logging
export { logger, type Progress } from './log';

// Rewards: the registry and composite (lib/reward) and the built-in modules (rewards/)
export {
  type RewardModule, type RewardInput, type RewardContext, defineReward, registerReward, createReward, listRewards,
  loadRewardFiles, CompositeReward, type RewardScores, checkSteps,
} from '../rewards';

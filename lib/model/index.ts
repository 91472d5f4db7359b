export { type Architecture, type Layout, LAYOUTS, type ModelConfig, type ResolvedModelConfig, validateModelConfig } from './config';
export { type FastOps, FUSED_OPS, REFERENCE_OPS } from './ops';
export { CausalLM, type ForwardOptions, type ForwardResult, type ProjectionAdapter, type WeightArrays } from './causal-lm';
export {
  LoraAdapter, type LoraConfig, defaultTargetModules, adapterParameterCount, trainableWeights, mergedArrays, withAdapterTraining,
} from './lora';
export {
  estimateMemory, estimateT5Memory, checkMemory, describeEstimate, keepsHeadPacked, packedBudgetFor, parameterCount, trackTensorBytes, MemoryLimitError, WASM_HEAP_BYTES,
  type MemoryPlan, type T5MemoryPlan, type MemoryEstimate, type TrainingMode, type TensorBytesTracker,
} from './memory';
export { KVCache } from './kv-cache';
export { scoreNextTokens, sequenceLogProbs, tokenLogProbs, type NextTokenScores } from './logprobs';
export { generate, sampleToken, type GenerateOptions, type Generation, type PartialText, type SamplingOptions } from './sampling';
export {
  saveCheckpoint,
  loadCheckpoint,
  loadStudentCheckpoint,
  readCheckpointConfig,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  ADAPTER_FOLDER,
  type CheckpointContents,
  type LoadedCheckpoint,
  type OptimizerState,
  type HasOptimizerState,
} from './checkpoint';
export { checkTokenizerFits } from './folder';
export * from './safetensors';
export {
  importHFCheckpoint,
  exportHFCheckpoint,
  configFromHF,
  SUPPORTED_MODEL_TYPES,
  type LoadOptions,
  type GenerationDefaults,
  weightsFromHF,
  weightsToHF,
  type ImportedCheckpoint,
} from './hf';
export { type T5Config, type ResolvedT5Config, type T5FeedForward, validateT5Config, t5WeightShapes } from './t5-config';
export { T5Model, type T5Encoding, type T5DecodeOptions, type T5Output } from './t5';
export { relativeBucket } from './t5-position';
export { t5TargetLogProbs } from './t5-logprobs';
export { type StudentModel, type Student, type ScoringRows, type ScoringTensors, type ScoredRows, type ScoreOptions } from './student';
export { t5Generate, type T5GenerateOptions } from './t5-generate';
export { t5ConfigFromHF, t5ConfigToHF, t5WeightsFromHF, t5WeightsToHF, importT5Checkpoint, exportT5Checkpoint, isT5Folder } from './t5-hf';

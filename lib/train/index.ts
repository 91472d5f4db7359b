export { AdamW, type AdamWOptions } from './adamw';
export { warmupCosine, type WarmupCosineOptions } from './schedule';
export { maskedCrossEntropy } from './loss';
export { clipByGlobalNorm } from './clip';
export { Trainer, type TrainerOptions, type TrainBatch, type StepResult } from './trainer';
export * from './formats';
export * from './distill';
export * from './distill';
export { encodeSeq2SeqText, seq2seqBatch, Seq2SeqTrainer, type Seq2SeqBatch, type Seq2SeqExample } from './seq2seq';

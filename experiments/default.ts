import { defineExperiment } from '../lib/experiment/config';

/**
 * The offline default: the whole method on a generated task in a few minutes, with no network and no data files.
 * Last-letter concatenation; an offline teacher writes CoT rationales with planted mistakes (wrong or skipped steps,
 * repetition, irrelevant sentences); a small student (word-char tokens) is distilled on the teacher-correct ones, then
 * refined with RL (GRPO, 8 samples per question, on freshly generated questions) against answer-correctness, judged by a
 * frozen copy of itself.
 */
export default defineExperiment({
  name: 'default',
  description: 'Offline default: last-letter concatenation (2 words), offline teacher with 30% mistakes, distil, then RL (GRPO) against a frozen judge.',
  seed: 1,
  data: { source: { kind: 'synthetic', task: 'last_letters', size: 500, steps: 2 }, testFraction: 0.3 },
  teacher: { kind: 'offline', errorRate: 0.3 },
  student: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 192, tokenizer: 'word-char' },
  distill: { format: 'fine-tune-cot', epochs: 20, batchSize: 8, learningRate: 5e-3, warmupSteps: 20, evalEvery: 5, maxNewTokens: 100 },
  judge: { kind: 'student-copy' },
  // Correctness alone: with the quality terms, a group whose samples are all right (or all wrong) got unit-size GRPO
  // advantages from style differences alone (flatGroups in metrics.jsonl).
  rewards: { weights: { 'answer-correctness': 1 } },
  rl: {
    algorithm: 'grpo', iterations: 60, batchSize: 8, samplesPerPrompt: 8, ppoEpochs: 2, minibatchSize: 32, learningRate: 2e-4,
    // Temperature 1: at 0.6 the samples of a question mostly agree, and a group that agrees teaches nothing.
    // One optimizer step per epoch over the iteration's 64 rationales (2 minibatches of 32 accumulated).
    temperature: 1, gradientAccumulationSteps: 2, maxNewTokens: 100, kl: { coef: 0.05 },
    // Fresh generated questions, none seen in distillation: refinement must carry over to new questions.
    prompts: { kind: 'synthetic', size: 4000 },
  },
  eval: { samples: 8 },
});

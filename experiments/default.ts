import { defineExperiment } from '../lib/experiment/config';

/**
 * The offline default: the whole method on a generated task in a few minutes, with no network and no data files.
 * Last-letter concatenation; an offline teacher writes CoT rationales with planted mistakes (wrong or skipped steps,
 * repetition, irrelevant sentences); a small char-level student is distilled on the teacher-correct ones, then
 * refined with PPO against the built-in rewards and a frozen copy of itself as the judge.
 */
export default defineExperiment({
  name: 'default',
  description: 'Offline default: last-letter concatenation (3 words), offline teacher with 30% mistakes, distil then PPO.',
  seed: 1,
  data: { source: { kind: 'synthetic', task: 'last_letters', size: 400, steps: 3 }, testFraction: 0.3 },
  teacher: { kind: 'offline', errorRate: 0.3 },
  student: { arch: 'gpt2', dModel: 96, nLayers: 3, nHeads: 4, maxSeqLen: 256, tokenizer: 'char' },
  distill: { format: 'fine-tune-cot', epochs: 6, batchSize: 16, learningRate: 3e-3, warmupSteps: 20, evalEvery: 3, maxNewTokens: 140 },
  judge: { kind: 'student-copy' },
  rewards: {
    weights: { 'answer-correctness': 1, factuality: 0.5, coherence: 0.2, 'length-guard': 0.2 },
  },
  rl: { algorithm: 'ppo', iterations: 20, batchSize: 16, ppoEpochs: 2, minibatchSize: 8, learningRate: 1e-4, maxNewTokens: 140, kl: { coef: 0.02 } },
  eval: { samples: 8 },
});

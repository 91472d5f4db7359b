import { defineExperiment } from '../lib/experiment/config';

/**
 * The offline default: the whole method on a generated task in a few minutes, with no network and no data files.
 * Last-letter concatenation; an offline teacher writes CoT rationales with planted mistakes (wrong or skipped steps,
 * repetition, irrelevant sentences); a small student (word-char tokens) is distilled on the teacher-correct ones, then
 * refined with RL (GRPO, 8 samples per question, on freshly generated questions) against the built-in rewards and a
 * frozen copy of itself as the judge.
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
  rewards: {
    weights: { 'answer-correctness': 1, factuality: 0.5, relevance: 0.3, coherence: 0.2, 'length-guard': 0.2 },
    // Quality counts only with a right answer, so a short or empty rationale cannot win reward on its own.
    expression: 'answer_correctness * (1 + factuality + relevance + coherence) + length_guard', // each name: weight x score
  },
  rl: {
    algorithm: 'grpo', iterations: 60, batchSize: 8, samplesPerPrompt: 8, ppoEpochs: 2, minibatchSize: 32, learningRate: 2e-4,
    // Sampling near the greedy rationale, so a group's right and wrong samples differ where greedy decoding errs.
    temperature: 0.6, maxNewTokens: 100, kl: { coef: 0.05 },
    // Fresh generated questions, none seen in distillation: refinement must carry over to new questions.
    prompts: { kind: 'synthetic', size: 4000 },
  },
  eval: { samples: 8 },
});

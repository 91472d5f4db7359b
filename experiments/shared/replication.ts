import { join } from 'node:path';
import { RECORDED_RATIONALES_DIR, recordedRationalesFile, type DatasetName } from '../../lib/data/datasets';
import { defaultDataDir } from '../../lib/data/files';
import { defineExperiment } from '../../lib/experiment/config';
import type { ExperimentInput } from '../../lib/experiment/schema';

/** Per-dataset settings of a replication run. */
interface ReplicationSettings {
  /** Any dataset the loader knows (`rrl data` lists them). */
  dataset: DatasetName;
  title: string;
  maxSeqLen: number;
  epochs: number;
  maxNewTokens: number;
}

/**
 * Fine-tune-CoT replication with the real GPT-3 (text-davinci-002) zero-shot-CoT rationales, then RL refinement with
 * a frozen copy of the distilled student as the judge. Data folder: RRL_DATA_DIR, else the repository's `data/`.
 * The recorded teacher file is found by the dataset's name or any alias (`recordedRationalesFile`: `commonsenseqa`
 * reads `commonsensqa.jsonl`, `tracking_shuffled_objects` reads `shuffled_objects.jsonl`). Split 70/30 by seed as
 * in the paper; only teacher-correct train rationales are used.
 */
export function replicationExperiment(settings: ReplicationSettings): ExperimentInput {
  const { dataset, title, maxSeqLen, epochs, maxNewTokens } = settings;
  const dataDir = defaultDataDir();
  return defineExperiment({
    name: `replicate-${dataset.replace(/_/g, '-')}`,
    description: `Fine-tune-CoT on ${title} (GPT-3 175B zero-shot-CoT rationales), then GRPO against a frozen judge.`,
    seed: 0,
    data: { source: { kind: 'dataset', name: dataset, dataDir }, testFraction: 0.3 },
    // A missing file is reported by the experiment's checks, under the dataset's own name.
    teacher: { kind: 'recorded', path: recordedRationalesFile(dataset, dataDir) ?? join(dataDir, RECORDED_RATIONALES_DIR, `${dataset}.jsonl`) },
    student: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen, tokenizer: 'word-char' },
    distill: { format: 'fine-tune-cot', filter: 'correct', epochs, batchSize: 8, learningRate: 5e-3, warmupSteps: 50, evalEvery: 4, maxNewTokens },
    judge: { kind: 'student-copy' },
    rewards: {
      weights: { 'answer-correctness': 1, factuality: 0.5, coherence: 0.2, 'length-guard': 0.2 },
      // Quality counts only with a right answer, so a short or empty rationale cannot win reward on its own.
      expression: 'answer_correctness * (1 + 0.5 * factuality + 0.2 * coherence) + 0.2 * length_guard',
    },
    rl: { algorithm: 'grpo', iterations: 60, batchSize: 8, samplesPerPrompt: 4, minibatchSize: 16, learningRate: 1e-4, maxNewTokens, kl: { coef: 0.05 } },
  });
}

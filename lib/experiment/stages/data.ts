import { loadDataset } from '../../data/datasets';
import { loadJsonl } from '../../data/custom';
import { dataFileExists } from '../../data/files';
import { readJsonl, writeJsonl } from '../../data/jsonl';
import { splitExamples } from '../../data/split';
import { generateSyntheticTask } from '../../data/synthetic';
import type { Example } from '../../data/types';
import { Random } from '../../random';
import type { StageContext, StageResult } from '../runner';
import type { ExperimentConfig } from '../schema';

/** The examples an experiment's `data.source` names, before splitting. */
export function loadSourceExamples(config: ExperimentConfig): Example[] {
  const source = config.data.source;
  switch (source.kind) {
    case 'synthetic':
      return generateSyntheticTask(source.task, { size: source.size, steps: source.steps, seed: config.seed });
    case 'dataset':
      return loadDataset(source.name, { dataDir: source.dataDir });
    case 'file':
      if (!dataFileExists(source.path)) throw new Error(`data.source.path: ${source.path} does not exist`);
      return loadJsonl(source.path, source.mapping, { answerType: source.answerType });
  }
}

/** The data stage: load, optionally subsample and keep only supporting paragraphs, split by seed, and write `data/train.jsonl` and `data/test.jsonl`. */
export async function dataStage({ config, dir }: StageContext): Promise<StageResult> {
  let examples = loadSourceExamples(config);
  if (config.data.limit !== undefined && examples.length > config.data.limit) {
    examples = new Random(config.seed).shuffle(examples).slice(0, config.data.limit);
  }
  if (config.data.context === 'supporting') {
    examples = examples.map((e) => (e.context ? { ...e, context: e.context.filter((p) => p.supporting) } : e));
  }
  const { train, test } = splitExamples(examples, { seed: config.seed, testFraction: config.data.testFraction });
  writeJsonl(`${dir}/train.jsonl`, train);
  writeJsonl(`${dir}/test.jsonl`, test);
  return { outputs: { train: 'data/train.jsonl', test: 'data/test.jsonl' }, summary: { train: train.length, test: test.length } };
}

/** Seed offset of the generator run that makes fresh RL prompts, so they differ from the data source's questions. */
const RL_PROMPT_SEED_OFFSET = 1_000_003;

/**
 * The questions RL samples rationales for (`rl.prompts`): the train split, fresh generated questions of the
 * synthetic task, or a file's questions. Any question whose text is in the test split is dropped (and, for
 * generated ones, any in the train split, so they are new to the student); ids get an `rl-` prefix.
 */
export function loadRLPrompts(config: ExperimentConfig, split: { train: Example[]; test: Example[] }): { prompts: Example[]; dropped: number } {
  const prompts = config.rl.prompts;
  if (prompts.kind === 'train') return { prompts: split.train, dropped: 0 };
  let candidates: Example[];
  const seen = new Set(split.test.map((e) => e.question));
  if (prompts.kind === 'synthetic') {
    const source = config.data.source;
    if (source.kind !== 'synthetic') throw new Error(`rl.prompts.kind: "synthetic" needs a synthetic data.source, not "${source.kind}"`);
    candidates = generateSyntheticTask(source.task, { size: prompts.size, steps: source.steps, seed: config.seed + RL_PROMPT_SEED_OFFSET });
    for (const e of split.train) seen.add(e.question);
  } else {
    if (!dataFileExists(prompts.path)) throw new Error(`rl.prompts.path: ${prompts.path} does not exist`);
    candidates = loadJsonl(prompts.path, prompts.mapping, { answerType: prompts.answerType });
  }
  const kept = candidates.filter((e) => !seen.has(e.question)).map((e) => ({ ...e, id: `rl-${e.id}` }));
  if (kept.length === 0) throw new Error(`rl.prompts: none of the ${candidates.length} questions is left once those in the data split are dropped`);
  return { prompts: kept, dropped: candidates.length - kept.length };
}

/** The train and test examples the data stage wrote. */
export function readSplit(context: StageContext): { train: Example[]; test: Example[] } {
  const files = context.outputsOf('data');
  return { train: readJsonl(files.train) as Example[], test: readJsonl(files.test) as Example[] };
}

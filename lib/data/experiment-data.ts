/**
 * The examples an experiment's config names: its data source (before splitting) and the questions RL samples
 * rationales for.
 */
import type { ExperimentConfig } from '../experiment/schema';
import { loadJsonl } from './custom';
import { loadDataset } from './datasets';
import { dataFileExists } from './files';
import { generateSyntheticTask } from './synthetic';
import type { Example } from './types';

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

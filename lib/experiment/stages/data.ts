import { loadSourceExamples } from '../../data/experiment-data';
import { readJsonl, writeJsonl } from '../../data/jsonl';
import { splitExamples } from '../../data/split';
import type { Example } from '../../data/types';
import { Random } from '../../random';
import type { StageContext, StageResult } from '../runner';

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

/** The train and test examples the data stage wrote. */
export function readSplit(context: StageContext): { train: Example[]; test: Example[] } {
  const files = context.outputsOf('data');
  return { train: readJsonl(files.train) as Example[], test: readJsonl(files.test) as Example[] };
}

import { join } from 'node:path';
import { defaultDataDir, resolveDataFile } from './files';
import { loadDatasetFile, type DatasetFileOptions, type DatasetFormat } from './sources';
import type { Example } from './types';

/** One file of a dataset, relative to the data folder. */
interface DatasetFile {
  path: string;
  format: DatasetFormat;
  split?: 'train' | 'test';
}

/** A named dataset: where its files usually live and how to read them. */
interface DatasetSpec {
  name: string;
  aliases: string[];
  /**
   * Alternative layouts, tried in order; the first with at least one existing file is loaded (all of its
   * existing files). A layout with split files keeps the source's train/test split.
   */
  layouts: DatasetFile[][];
  options?: Pick<DatasetFileOptions, 'answerType' | 'shuffleChoices'>;
}

const single = (path: string, format: DatasetFormat): DatasetFile[] => [{ path, format }];

/** The paths follow zero-shot-CoT's `dataset/` folder and the HotpotQA / 2Wiki / IRCoT releases. */
const DATASETS: readonly DatasetSpec[] = [
  { name: 'singleeq', aliases: ['single_eq'], layouts: [single('SingleEq/questions.json', 'mawps')] },
  { name: 'addsub', aliases: [], layouts: [single('AddSub/AddSub.json', 'mawps')] },
  { name: 'multiarith', aliases: ['multi_arith'], layouts: [single('MultiArith/MultiArith.json', 'mawps')] },
  {
    name: 'gsm8k',
    aliases: ['grade-school-math'],
    layouts: [[
      { path: 'grade-school-math/train.jsonl', format: 'gsm8k', split: 'train' },
      { path: 'grade-school-math/test.jsonl', format: 'gsm8k', split: 'test' },
    ]],
  },
  { name: 'aqua', aliases: ['aqua_rat'], layouts: [single('AQuA/test.json', 'aqua')] },
  { name: 'svamp', aliases: [], layouts: [single('SVAMP/SVAMP.json', 'svamp')] },
  {
    name: 'date_understanding',
    aliases: ['bigbench_date', 'date'],
    layouts: [single('Bigbench_Date/task.json', 'bigbench'), single('date_understanding/task.json', 'bigbench')],
    options: { shuffleChoices: true },
  },
  {
    name: 'tracking_shuffled_objects',
    aliases: ['object_tracking', 'shuffled_objects', 'bigbench_object_tracking'],
    layouts: [
      single('Bigbench_object_tracking/task.json', 'bigbench'),
      single('tracking_shuffled_objects/three_objects/task.json', 'bigbench'),
    ],
  },
  {
    name: 'last_letters',
    aliases: ['last_letter_concatenation'],
    layouts: [single('last_letters/last_letters.json', 'question-answer')],
    options: { answerType: 'text' },
  },
  {
    name: 'coin_flip',
    aliases: [],
    layouts: [single('coin_flip/coin_flip.json', 'question-answer')],
    options: { answerType: 'yes-no' },
  },
  {
    name: 'commonsenseqa',
    aliases: ['commonsensqa', 'commonsense_qa', 'csqa'],
    layouts: [[
      { path: 'CommonsenseQA/train_rand_split.jsonl', format: 'commonsenseqa', split: 'train' },
      { path: 'CommonsenseQA/dev_rand_split.jsonl', format: 'commonsenseqa', split: 'test' },
    ]],
  },
  { name: 'strategyqa', aliases: ['strategy_qa'], layouts: [single('StrategyQA/task.json', 'bigbench')] },
  {
    name: 'hotpotqa',
    aliases: ['hotpot_qa'],
    layouts: [
      single('hotpotqa/dev_subsampled_ircot.jsonl', 'ircot'),
      single('hotpotqa/dev_subsampled.jsonl', 'ircot'),
      single('hotpotqa/hotpot_dev_distractor_v1.json', 'hotpotqa'),
    ],
  },
  {
    name: '2wikimultihopqa',
    aliases: ['2wiki', '2wikimqa'],
    layouts: [single('2wikimultihopqa/dev_subsampled.jsonl', 'ircot'), single('2wikimultihopqa/dev.json', '2wikimultihopqa')],
  },
];

/** Names accepted by {@link loadDataset} (canonical names; aliases such as `commonsensqa` also work). */
export const DATASET_NAMES: readonly string[] = DATASETS.map((d) => d.name);

/** Options for {@link loadDataset}. */
export interface LoadDatasetOptions {
  /**
   * Folder holding the data (default: `RRL_DATA_DIR`, else the package's own `data/`, see `defaultDataDir`). Each
   * file is looked for under it and under its `zero-shot-cot/datasets/` subfolder, plain or compressed (`.gz`,
   * `.br`), e.g. `data/zero-shot-cot/datasets/last_letters/last_letters.json`.
   */
  dataDir?: string;
}

function findSpec(name: string): DatasetSpec {
  const key = name.trim().toLowerCase();
  const spec = DATASETS.find((d) => d.name === key || d.aliases.includes(key));
  if (!spec) throw new Error(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
  return spec;
}

/** The canonical name of a dataset name or alias (`commonsensqa` -> `commonsenseqa`). */
export function canonicalDatasetName(name: string): string {
  return findSpec(name).name;
}

/**
 * Load a named dataset (`last_letters`, `coin_flip`, `multiarith`, `gsm8k`, `aqua`, `svamp`, `singleeq`, `addsub`,
 * `date_understanding`, `tracking_shuffled_objects`, `commonsenseqa`, `strategyqa`, `hotpotqa`,
 * `2wikimultihopqa`) from its original files under `dataDir`. Examples from a source's own split files carry
 * `metadata.split`.
 */
export function loadDataset(name: string, options: LoadDatasetOptions = {}): Example[] {
  const spec = findSpec(name);
  const dataDir = options.dataDir ?? defaultDataDir();
  const roots = [dataDir, join(dataDir, 'zero-shot-cot', 'datasets')];
  const locate = (file: DatasetFile) => roots.map((root) => join(root, file.path)).map((path) => resolveDataFile(path)).find((path) => path !== undefined);
  for (const layout of spec.layouts) {
    const present = layout.flatMap((file) => {
      const path = locate(file);
      return path ? [{ ...file, path }] : [];
    });
    if (present.length === 0) continue;
    return present.flatMap((file) =>
      loadDatasetFile(file.path, file.format, { ...spec.options, dataset: spec.name, split: file.split }),
    );
  }
  const tried = spec.layouts.flat().map((file) => file.path).join(', ');
  throw new Error(`dataset "${spec.name}": no file found under ${roots.join(' or ')} (looked for ${tried})`);
}

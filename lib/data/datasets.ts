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
  /** Other names, including the names of recorded-rationale files (zero-shot-CoT's `commonsensqa`, `shuffled_objects`). */
  aliases: readonly string[];
  /** Where the data comes from, for `rrl data`. */
  source: string;
  /**
   * Alternative layouts, tried in order; the first with at least one existing file is loaded (all of its
   * existing files). A layout with split files keeps the source's train/test split.
   */
  layouts: readonly (readonly DatasetFile[])[];
  options?: Pick<DatasetFileOptions, 'answerType' | 'shuffleChoices'>;
}

const single = (path: string, format: DatasetFormat): DatasetFile[] => [{ path, format }];

/** The paths follow zero-shot-CoT's `dataset/` folder and the HotpotQA / 2Wiki / IRCoT releases. */
const DATASETS = [
  { name: 'singleeq', aliases: ['single_eq'], source: 'SingleEq (Koncel-Kedziorski et al., 2015), MAWPS format', layouts: [single('SingleEq/questions.json', 'mawps')] },
  { name: 'addsub', aliases: [], source: 'AddSub (Hosseini et al., 2014), MAWPS format', layouts: [single('AddSub/AddSub.json', 'mawps')] },
  { name: 'multiarith', aliases: ['multi_arith'], source: 'MultiArith (Roy & Roth, 2015), MAWPS format', layouts: [single('MultiArith/MultiArith.json', 'mawps')] },
  {
    name: 'gsm8k',
    aliases: ['grade-school-math'],
    source: 'GSM8K (Cobbe et al., 2021), openai/grade-school-math',
    layouts: [[
      { path: 'grade-school-math/train.jsonl', format: 'gsm8k', split: 'train' },
      { path: 'grade-school-math/test.jsonl', format: 'gsm8k', split: 'test' },
    ]],
  },
  { name: 'aqua', aliases: ['aqua_rat'], source: 'AQuA-RAT test split (Ling et al., 2017)', layouts: [single('AQuA/test.json', 'aqua')] },
  { name: 'svamp', aliases: [], source: 'SVAMP (Patel et al., 2021)', layouts: [single('SVAMP/SVAMP.json', 'svamp')] },
  {
    name: 'date_understanding',
    aliases: ['bigbench_date', 'date'],
    source: 'BIG-bench Date Understanding',
    layouts: [single('Bigbench_Date/task.json', 'bigbench'), single('date_understanding/task.json', 'bigbench')],
    options: { shuffleChoices: true },
  },
  {
    name: 'tracking_shuffled_objects',
    aliases: ['object_tracking', 'shuffled_objects', 'bigbench_object_tracking'],
    source: 'BIG-bench Tracking Shuffled Objects (three objects)',
    layouts: [
      single('Bigbench_object_tracking/task.json', 'bigbench'),
      single('tracking_shuffled_objects/three_objects/task.json', 'bigbench'),
    ],
  },
  {
    name: 'last_letters',
    aliases: ['last_letter_concatenation'],
    source: 'Last Letter Concatenation, made by Kojima et al. (2022) after Wei et al. (2022)',
    layouts: [single('last_letters/last_letters.json', 'question-answer')],
    options: { answerType: 'text' },
  },
  {
    name: 'coin_flip',
    aliases: [],
    source: 'Coin Flip, made by Kojima et al. (2022) after Wei et al. (2022)',
    layouts: [single('coin_flip/coin_flip.json', 'question-answer')],
    options: { answerType: 'yes-no' },
  },
  {
    name: 'commonsenseqa',
    aliases: ['commonsensqa', 'commonsense_qa', 'csqa'],
    source: 'CommonsenseQA random split (Talmor et al., 2019): train, and dev as test',
    layouts: [[
      { path: 'CommonsenseQA/train_rand_split.jsonl', format: 'commonsenseqa', split: 'train' },
      { path: 'CommonsenseQA/dev_rand_split.jsonl', format: 'commonsenseqa', split: 'test' },
    ]],
  },
  { name: 'strategyqa', aliases: ['strategy_qa'], source: 'StrategyQA (Geva et al., 2021), BIG-bench task file', layouts: [single('StrategyQA/task.json', 'bigbench')] },
  {
    name: 'hotpotqa',
    aliases: ['hotpot_qa'],
    source: 'HotpotQA dev (Yang et al., 2018), 500 questions in the IRCoT format',
    layouts: [
      single('hotpotqa/dev_subsampled_ircot.jsonl', 'ircot'),
      single('hotpotqa/dev_subsampled.jsonl', 'ircot'),
      single('hotpotqa/hotpot_dev_distractor_v1.json', 'hotpotqa'),
    ],
  },
  {
    name: '2wikimultihopqa',
    aliases: ['2wiki', '2wikimqa'],
    source: '2WikiMultiHopQA dev (Ho et al., 2020)',
    layouts: [single('2wikimultihopqa/dev_subsampled.jsonl', 'ircot'), single('2wikimultihopqa/dev.json', '2wikimultihopqa')],
  },
] as const satisfies readonly DatasetSpec[];

/** A canonical dataset name known to {@link loadDataset}. */
export type DatasetName = (typeof DATASETS)[number]['name'];

/** Names accepted by {@link loadDataset} (canonical names; aliases such as `commonsensqa` also work). */
export const DATASET_NAMES: readonly DatasetName[] = DATASETS.map((d) => d.name);

/** Options for {@link loadDataset}. */
export interface LoadDatasetOptions {
  /**
   * Folder holding the data (default: `RRL_DATA_DIR`, else the package's own `data/`, see `defaultDataDir`). Each
   * file is looked for under it and under its `zero-shot-cot/datasets/` subfolder, plain or compressed (`.gz`,
   * `.br`), e.g. `data/zero-shot-cot/datasets/last_letters/last_letters.json`.
   */
  dataDir?: string;
}

function findSpec(name: string): DatasetSpec & { name: DatasetName } {
  const key = name.trim().toLowerCase();
  const spec = (DATASETS as readonly (DatasetSpec & { name: DatasetName })[]).find((d) => d.name === key || d.aliases.includes(key));
  if (!spec) throw new Error(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
  return spec;
}

/** The canonical name of a dataset name or alias (`commonsensqa` -> `commonsenseqa`). */
export function canonicalDatasetName(name: string): DatasetName {
  return findSpec(name).name;
}

/** Whether `name` is a dataset name or alias {@link loadDataset} knows. */
export function isDatasetName(name: string): boolean {
  const key = name.trim().toLowerCase();
  return DATASETS.some((d) => d.name === key || (d.aliases as readonly string[]).includes(key));
}

/** The other names of a dataset and where its data comes from. */
export function datasetSource(name: string): { name: DatasetName; aliases: readonly string[]; source: string } {
  const { name: canonical, aliases, source } = findSpec(name);
  return { name: canonical, aliases, source };
}

/** Folder of the recorded teacher rationales, relative to the data folder. */
export const RECORDED_RATIONALES_DIR = 'zero-shot-cot/teacher-rationales';

/**
 * The recorded zero-shot-CoT rationale file of a dataset under `dataDir`, plain or compressed, or undefined. The file
 * may be named by the canonical name or any alias: the alias list is the table from dataset names to the recorded
 * files' names (`commonsenseqa` <-> `commonsensqa.jsonl`, `tracking_shuffled_objects` <-> `shuffled_objects.jsonl`).
 * Returns the plain path (`.../commonsensqa.jsonl`), which every reader opens transparently.
 */
export function recordedRationalesFile(name: string, dataDir: string = defaultDataDir()): string | undefined {
  const spec = findSpec(name);
  return [spec.name, ...spec.aliases]
    .map((file) => join(dataDir, RECORDED_RATIONALES_DIR, `${file}.jsonl`))
    .find((path) => resolveDataFile(path) !== undefined);
}

/**
 * Load a named dataset (`last_letters`, `coin_flip`, `multiarith`, `gsm8k`, `aqua`, `svamp`, `singleeq`, `addsub`,
 * `date_understanding`, `tracking_shuffled_objects`, `commonsenseqa`, `strategyqa`, `hotpotqa`,
 * `2wikimultihopqa`) from its original files under `dataDir`. Examples from a source's own split files carry
 * `metadata.split`.
 */
export function loadDataset(name: string, options: LoadDatasetOptions = {}): Example[] {
  return loadDatasetWithFiles(name, options).examples;
}

/** {@link loadDataset}, also returning the files it read (plain or compressed, as found). */
export function loadDatasetWithFiles(name: string, options: LoadDatasetOptions = {}): { examples: Example[]; files: string[] } {
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
    const examples = present.flatMap((file) =>
      loadDatasetFile(file.path, file.format, { ...spec.options, dataset: spec.name, split: file.split }),
    );
    return { examples, files: present.map((file) => file.path) };
  }
  const tried = spec.layouts.flat().map((file) => file.path).join(', ');
  throw new Error(`dataset "${spec.name}": no file found under ${roots.join(' or ')} (looked for ${tried})`);
}

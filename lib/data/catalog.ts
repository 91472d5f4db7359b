import { datasetSource, DATASET_NAMES, loadDatasetWithFiles, recordedRationalesFile } from './datasets';
import { defaultDataDir } from './files';
import { readJsonl } from './jsonl';
import { isObject } from './records';
import type { AnswerType, Example } from './types';

/** What `rrl data` shows about one dataset. */
export interface DatasetSummary {
  name: string;
  aliases: readonly string[];
  source: string;
  /** Whether its files were found under the data folder. */
  available: boolean;
  /** The files read (plain or compressed), or why none could be: the loader's message. */
  files: string[];
  missing?: string;
  questions: number;
  answerTypes: AnswerType[];
  /** Questions per split: `train` / `test` for sets with their own split files, else `all`. */
  splits: Record<string, number>;
  /** The recorded zero-shot-CoT teacher rationales, when the data folder has them. */
  teacher?: { file: string; records: number; correct: number };
}

/** Options for {@link summarizeDataset}. */
export interface SummarizeOptions {
  /** Data folder (default: `defaultDataDir()`). */
  dataDir?: string;
}

function teacherSummary(name: string, dataDir: string): DatasetSummary['teacher'] {
  const file = recordedRationalesFile(name, dataDir);
  if (!file) return undefined;
  const records = readJsonl(file);
  const correct = records.filter((r) => isObject(r) && r.teacher_correct === true).length;
  return { file, records: records.length, correct };
}

/** Counts, answer types, splits, source and recorded teacher file of one dataset, with its examples. */
export function summarizeDataset(name: string, options: SummarizeOptions = {}): { summary: DatasetSummary; examples: Example[] } {
  const dataDir = options.dataDir ?? defaultDataDir();
  const { name: canonical, aliases, source } = datasetSource(name);
  const base = { name: canonical, aliases, source };
  let loaded: { examples: Example[]; files: string[] };
  try {
    loaded = loadDatasetWithFiles(canonical, { dataDir });
  } catch (error) {
    const summary: DatasetSummary = { ...base, available: false, files: [], missing: (error as Error).message, questions: 0, answerTypes: [], splits: {} };
    return { summary, examples: [] };
  }
  const splits: Record<string, number> = {};
  for (const example of loaded.examples) {
    const split = typeof example.metadata?.split === 'string' ? example.metadata.split : 'all';
    splits[split] = (splits[split] ?? 0) + 1;
  }
  const answerTypes = [...new Set(loaded.examples.map((e) => e.answerType))];
  const summary: DatasetSummary = {
    ...base, available: true, files: loaded.files, questions: loaded.examples.length, answerTypes, splits,
    teacher: teacherSummary(canonical, dataDir),
  };
  return { summary, examples: loaded.examples };
}

/** {@link summarizeDataset} of every dataset the loader knows, available or not. */
export function summarizeDatasets(options: SummarizeOptions = {}): DatasetSummary[] {
  return DATASET_NAMES.map((name) => summarizeDataset(name, options).summary);
}

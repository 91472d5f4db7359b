import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDataset } from '../lib/data/datasets';
import { defaultDataDir } from '../lib/data/files';
import { readJson, readJsonl } from '../lib/data/jsonl';
import { splitExamples } from '../lib/data/split';
import type { Example } from '../lib/data/types';
import { ConfigError, validateExperiment } from '../lib/experiment/config';
import type { Manifest } from '../lib/experiment/run-folder';
import { RunStateError } from '../lib/experiment/runner';
import type { ExperimentConfig } from '../lib/experiment/schema';

/** An experiment's defaults, from the schema (the one place they are defined). */
export function experimentDefaults(): ExperimentConfig {
  return validateExperiment({ name: 'defaults', data: { source: { kind: 'synthetic', task: 'last_letters' } } });
}

/** What `rrl eval` / `rrl generate` were asked for on the command line. */
export interface QuestionArgs {
  checkpoint?: string;
  run?: string;
  dataset?: string;
  questions?: string;
  dataDir?: string;
  split: string;
  seed: number;
  limit?: number;
  format?: string;
  maxNewTokens?: number;
  judge?: string;
}

/** Settings of one student evaluation, after defaults. */
export interface EvalSettings {
  checkpoint: string;
  examples: Example[];
  format: ExperimentConfig['distill']['format'];
  maxNewTokens: number;
  /** The judge checkpoint; undefined: the student itself, frozen. */
  judge?: string;
  /** Where each setting came from, for the log. */
  from: string;
}

/**
 * Resolve `rrl eval` / `rrl generate` settings. With `--run <run folder>`, the run's manifest gives the defaults the
 * experiment used: its test split (`data/test.jsonl`), its RL student (else its distilled one), its judge (the
 * distilled student for `student-copy`, the `checkpoint` judge's folder), `distill.format` and
 * `distill.maxNewTokens`. Without it, the schema's defaults and the default data folder (`RRL_DATA_DIR`, else the
 * package's `data/`). Flags given on the command line win.
 */
export function resolveEvalSettings(args: QuestionArgs): EvalSettings {
  const run = args.run ? readRun(args.run) : undefined;
  const config = run?.manifest.config ?? experimentDefaults();
  const format = (args.format ?? config.distill.format) as EvalSettings['format'];
  const maxNewTokens = args.maxNewTokens ?? config.distill.maxNewTokens;
  const checkpoint = args.checkpoint ?? run?.student;
  if (!checkpoint) throw new ConfigError('arguments', ['give a checkpoint folder, or --run <run folder> to use its student']);
  const judge = args.judge ?? run?.judge;
  let examples: Example[];
  if (args.questions) examples = readJsonl(args.questions) as Example[];
  else if (args.dataset) {
    const dataDir = args.dataDir ?? (config.data.source.kind === 'dataset' && run ? config.data.source.dataDir : undefined) ?? defaultDataDir();
    const all = loadDataset(args.dataset, { dataDir });
    examples = args.split === 'all' ? all : splitExamples(all, { seed: args.seed })[args.split as 'train' | 'test'];
  } else if (run) examples = readJsonl(run.test) as Example[];
  else throw new ConfigError('arguments', ['give --dataset <name>, --questions <file.jsonl> or --run <run folder>']);
  if (args.limit) examples = examples.slice(0, args.limit);
  return { checkpoint, examples, format, maxNewTokens, judge, from: run ? `run ${run.root}` : 'experiment defaults' };
}

function readRun(dir: string): { root: string; manifest: Manifest; student: string; judge?: string; test: string } {
  const root = resolve(dir);
  const file = join(root, 'manifest.json');
  if (!existsSync(file)) throw new RunStateError(`--run: ${root} has no manifest.json (not a run folder)`);
  const manifest = readJson(file) as Manifest;
  const output = (stage: 'data' | 'distill' | 'rl', key: string) => {
    const relative = manifest.stages[stage]?.status === 'done' ? manifest.stages[stage]?.outputs[key] : undefined;
    return relative && existsSync(join(root, relative)) ? join(root, relative) : undefined;
  };
  const test = output('data', 'test');
  const distilled = output('distill', 'best');
  const student = output('rl', 'final') ?? distilled;
  if (!test || !student) throw new RunStateError(`--run: ${root} has no finished data and distill stages yet`);
  const judgeConfig = manifest.config.judge;
  const judge = judgeConfig.kind === 'student-copy' ? distilled : judgeConfig.kind === 'checkpoint' ? judgeConfig.path : undefined;
  return { root, manifest, student, judge, test };
}

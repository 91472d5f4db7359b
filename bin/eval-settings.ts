import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDataset } from '../lib/data/datasets';
import { defaultDataDir } from '../lib/data/files';
import { readJson, readJsonl, readJsonlLines } from '../lib/data/jsonl';
import { splitExamples } from '../lib/data/split';
import { MAX_RECORD_BYTES } from '../lib/data/records';
import type { Example } from '../lib/data/types';
import { ConfigError, validateExperiment } from '../lib/experiment/config';
import type { Manifest } from '../lib/experiment/run-folder';
import { RunStateError } from '../lib/experiment/runner';
import type { ExperimentConfig } from '../lib/experiment/schema';
import { InputError } from '../lib/input-error';

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
  chatTemplate?: boolean;
  judge?: string;
  judgeTemplate?: string;
  judgeMaxTokens?: number;
}

/** Settings of one student evaluation, after defaults. */
export interface EvalSettings {
  checkpoint: string;
  examples: Example[];
  format: ExperimentConfig['distill']['format'];
  maxNewTokens: number;
  /** Prompts rendered by the student's chat template (`--chat-template`, else the experiment's `student.chatTemplate`). */
  chat: boolean;
  /** The judge checkpoint; undefined: the student itself, frozen. */
  judge?: string;
  /** How the judge is asked: the experiment's `judge.template` and `judge.maxTokens`. */
  judgeSettings: { template?: string; maxTokens: number };
  /** Where each setting came from, for the log. */
  from: string;
}

/**
 * Resolve `rrl eval` / `rrl generate` settings. With `--run <run folder>`, the run's manifest gives the defaults the
 * experiment used: its test split (`data/test.jsonl`), its RL student (else its distilled one), its judge (the
 * distilled student for `student-copy`, the `checkpoint` judge's folder), `distill.format`, `distill.maxNewTokens`
 * and `student.chatTemplate`. Without it, the schema's defaults and the default data folder (`RRL_DATA_DIR`, else the
 * package's `data/`). Flags given on the command line win.
 */
export function resolveEvalSettings(args: QuestionArgs): EvalSettings {
  const run = args.run ? readRun(args.run) : undefined;
  const config = run?.manifest.config ?? experimentDefaults();
  const format = (args.format ?? config.distill.format) as EvalSettings['format'];
  const maxNewTokens = args.maxNewTokens ?? config.distill.maxNewTokens;
  const chat = args.chatTemplate ?? ('checkpoint' in config.student && config.student.chatTemplate);
  const checkpoint = args.checkpoint ?? run?.student;
  if (!checkpoint) throw new ConfigError('arguments', ['give a checkpoint folder, or --run <run folder> to use its student']);
  const judge = args.judge ?? run?.judge;
  const limit = positiveCount('limit', args.limit);
  positiveCount('max-new-tokens', maxNewTokens);
  let examples: Example[];
  if (args.questions) examples = readQuestions(args.questions);
  else if (args.dataset) {
    const dataDir = args.dataDir ?? (config.data.source.kind === 'dataset' && run ? config.data.source.dataDir : undefined) ?? defaultDataDir();
    const all = asInput(() => loadDataset(args.dataset!, { dataDir }));
    examples = args.split === 'all' ? all : splitExamples(all, { seed: args.seed })[args.split as 'train' | 'test'];
  } else if (run) examples = readJsonl(run.test) as Example[];
  else throw new ConfigError('arguments', ['give --dataset <name>, --questions <file.jsonl> or --run <run folder>']);
  if (limit) examples = examples.slice(0, limit);
  const judgeSettings = { template: args.judgeTemplate ?? config.judge.template, maxTokens: positiveCount('judge-max-tokens', args.judgeMaxTokens) ?? config.judge.maxTokens };
  return { checkpoint, examples, format, maxNewTokens, chat, judge, judgeSettings, from: run ? `run ${run.root}` : 'experiment defaults' };
}

/** `read()`, with any failure an {@link InputError} (exit code 2) carrying the same message. */
function asInput<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw error instanceof InputError ? error : new InputError((error as Error).message, { cause: error });
  }
}

/** Examples of a JSONL questions file, each line checked for the fields the commands read. */
function readQuestions(file: string): Example[] {
  return asInput(() => readJsonlLines(file, { maxLineBytes: MAX_RECORD_BYTES })).map(({ line, value }) => {
    const record = value as Partial<Example> | null;
    const problem = typeof record !== 'object' || record === null || Array.isArray(record) ? 'expected an object (an Example)'
      : typeof record.id !== 'string' ? 'field "id" must be a string'
        : typeof record.question !== 'string' || !record.question.trim() ? 'field "question" must be a non-empty string'
          : !Array.isArray(record.answers) || !record.answers.every((a) => typeof a === 'string') ? 'field "answers" must be a list of strings'
            : undefined;
    if (problem) throw new InputError(`${file}:${line}: ${problem}`);
    return record as Example;
  });
}

/** A count argument: a positive integer, or undefined when not given. */
function positiveCount(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`--${name}: must be a positive integer, got ${value}`);
  return value;
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

/**
 * `npm run bench:rl`: rationale refinement with RL (GRPO by default) on Last Letter Concatenation and Coin Flip over
 * 3 RL seeds.
 *
 * For each dataset, one experiment run (`checkpoints/bench-rl/<dataset>`) splits the questions 70/30 (seed 0),
 * imports the real GPT-3 zero-shot-CoT rationales as the teacher and distils a word-char student on the
 * teacher-correct ones. That student is distilled once and shared: each RL seed has its own run folder
 * (`<dataset>-seed<k>`) whose data, teacher and distill stages copy the shared run's files, then refines the
 * distilled student with the built-in rewards (answer-correctness judged by a frozen copy of the distilled student,
 * gating factuality with the exact step checks, relevance and coherence; plus length-guard) on fresh questions
 * recombined from the train split's words or people (`--prompts train` for the train split itself), and evaluates
 * on the held-out split: judge accuracy, composite reward, repetition rate and mean rationale length, for the
 * distilled and the RL student.
 *
 * Every run folder is an ordinary experiment run, so an interrupted benchmark continues where it stopped when run
 * again. Prints the reward curves and a table with mean and spread over seeds, writes the curves to
 * `checkpoints/bench-rl/curves.json`; the last line is one JSON object.
 *
 *   npm run bench:rl                                  # both datasets, 3 seeds
 *   npm run bench:rl -- --dataset last_letters        # one
 *   npm run bench:rl -- --quick                       # a tiny slice, tiny model, 2 iterations (smoke test)
 *   npm run bench:rl -- --iterations 40 --lr 1e-4     # RL settings for tuning runs (see --help)
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../lib/backend';
import type { ConditionResult } from '../lib/eval/report';
import {
  readMetrics, RunFolder, runExperiment, STAGE_IMPLEMENTATIONS, stageConfigHash, validateExperiment,
  type EvalResults, type ExperimentConfig, type ExperimentInput, type StageFunction, type StageName,
} from '../lib/experiment';
import { defaultDataDir } from '../lib/data/files';
import { readJsonl, writeJsonl } from '../lib/data/jsonl';
import type { Example } from '../lib/data/types';
import { writeJsonAtomic } from '../lib/fs';
import { recombinedQuestions } from './rl-prompts';

type DatasetName = 'last_letters' | 'coin_flip';
const DATASETS: readonly DatasetName[] = ['last_letters', 'coin_flip'];
const SEEDS = [1, 2, 3];
/** The stages an RL seed takes over from the shared distillation run. */
const SHARED_STAGES: StageName[] = ['data', 'teacher', 'distill'];

/** Student and distillation settings per dataset (bench:distill's Llama d64/2-layer student, word-char tokenizer). */
const DISTILL: Record<DatasetName, Pick<ExperimentInput, 'student' | 'distill'>> = {
  last_letters: {
    student: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 256, tokenizer: 'word-char' },
    distill: { epochs: 30, batchSize: 8, learningRate: 5e-3, warmupSteps: 50, evalEvery: 5, maxNewTokens: 160 },
  },
  coin_flip: {
    student: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 384, tokenizer: 'word-char' },
    distill: { epochs: 20, batchSize: 8, learningRate: 5e-3, warmupSteps: 50, evalEvery: 5, maxNewTokens: 200 },
  },
};

/** RL iterations per dataset: Coin Flip's rationales are about twice as long, so its iterations cost twice as much. */
const RL_ITERATIONS: Record<DatasetName, number> = { last_letters: 60, coin_flip: 30 };

/** Fresh questions recombined from the train split's words and people (`--prompts recombined`), per dataset. */
const RECOMBINED_PROMPTS = 3000;

/**
 * --quick: a tiny student, one epoch, two RL iterations, 12 held-out questions scored. (The whole train split is
 * kept: the teacher stage imports recorded rationales against the limited example set and rejects the others.)
 */
const QUICK: Pick<ExperimentInput, 'student' | 'distill'> = {
  student: { arch: 'llama', dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 560, tokenizer: 'char' },
  distill: { epochs: 1, batchSize: 8, learningRate: 3e-3, warmupSteps: 2, evalEvery: 1, maxNewTokens: 24 },
};
const QUICK_EVAL_LIMIT = 12;

/** The RL settings a run can override from the command line. */
interface RLSettings {
  /** Overrides the dataset's distillation epochs (the shared student's). */
  distillEpochs?: number;
  algorithm: 'ppo' | 'rloo' | 'grpo';
  /** RL questions: recombined from the train split's words/people ({@link recombinedQuestions}), or the train split. */
  prompts: 'recombined' | 'train';
  /** RL iterations; default per dataset ({@link RL_ITERATIONS}). */
  iterations?: number;
  batchSize: number;
  samplesPerPrompt: number;
  learningRate: number;
  klCoef: number;
  temperature: number;
  evalLimit?: number;
}

/** The built-in rewards; quality counts only with a right answer, so a short or empty rationale cannot win alone. */
const REWARD_WEIGHTS = { 'answer-correctness': 1, factuality: 0.5, relevance: 0.3, coherence: 0.2, 'length-guard': 0.2 };
const REWARD_EXPRESSION = 'answer_correctness * (1 + 0.5 * factuality + 0.3 * relevance + 0.2 * coherence) + 0.2 * length_guard';

/** Where a dataset's recombined RL questions are written (as `{question, answer}` lines). */
const promptsFile = (out: string, name: DatasetName) => join(out, `${name}-rl-prompts.jsonl`);

function experiment(name: DatasetName, runName: string, seed: number, options: { out: string; dataDir: string; quick: boolean; rl: RLSettings; conditions: ('distilled' | 'rl')[] }): ExperimentConfig {
  const shape = options.quick ? QUICK : DISTILL[name];
  const distill = shape.distill as { epochs: number; evalEvery: number; maxNewTokens: number };
  const epochs = options.rl.distillEpochs ?? distill.epochs;
  return validateExperiment({
    name: runName, seed, output: options.out,
    data: { source: { kind: 'dataset', name, dataDir: options.dataDir }, testFraction: 0.3 },
    teacher: { kind: 'recorded', path: join(options.dataDir, 'zero-shot-cot', 'teacher-rationales', `${name}.jsonl`) },
    student: shape.student,
    distill: { ...distill, epochs, evalEvery: epochs },
    judge: { kind: 'student-copy' },
    rewards: { weights: REWARD_WEIGHTS, expression: REWARD_EXPRESSION },
    rl: {
      algorithm: options.rl.algorithm, iterations: options.rl.iterations ?? (options.quick ? 2 : RL_ITERATIONS[name]), batchSize: options.rl.batchSize, samplesPerPrompt: options.rl.samplesPerPrompt,
      prompts: options.rl.prompts === 'train' ? { kind: 'train' }
        : { kind: 'file', path: promptsFile(options.out, name), mapping: { question: 'question', answer: 'answer' }, answerType: name === 'coin_flip' ? 'yes-no' : 'text' },
      ppoEpochs: 2, minibatchSize: 16, learningRate: options.rl.learningRate, kl: { coef: options.rl.klCoef },
      temperature: options.rl.temperature, maxNewTokens: distill.maxNewTokens, checkpointEvery: 5,
    },
    eval: { conditions: options.conditions, samples: 4, ...(options.rl.evalLimit ? { limit: options.rl.evalLimit } : {}) },
  }, `bench:rl ${runName}`);
}

/** A stage that takes over the shared run's finished results (copies its files into this run folder). */
function copiedStage(shared: RunFolder, stage: StageName): StageFunction {
  return async ({ run }) => {
    const record = shared.manifest().stages[stage];
    if (record?.status !== 'done') throw new Error(`${shared.root}: stage "${stage}" is not done`);
    for (const file of Object.values(record.outputs)) cpSync(shared.path(file), run.path(file), { recursive: true });
    return { outputs: record.outputs, summary: record.summary };
  };
}

/** What one seed reached. */
interface SeedResult {
  seed: number;
  distilled: ConditionResult;
  rl: ConditionResult;
  /** Per iteration: the composite reward, each component, judge accuracy and KL. */
  curve: Record<string, number>[];
}

const CURVE_FIELDS = ['reward/total/mean', ...Object.keys(REWARD_WEIGHTS).map((n) => `reward/${n}/mean`), 'judgeAccuracy', 'kl', 'rationaleChars'];

function readCurve(run: RunFolder): Record<string, number>[] {
  return readMetrics(run.path('metrics.jsonl')).filter((r) => r.stage === 'rl').map((r) => Object.fromEntries(
    [['iteration', Number(r.step)], ...CURVE_FIELDS.filter((f) => typeof r[f] === 'number').map((f) => [f, r[f] as number])],
  ));
}

function readConditions(run: RunFolder): Map<string, ConditionResult> {
  const results = JSON.parse(readFileSync(run.path('eval', 'results.json'), 'utf8')) as EvalResults;
  return new Map(results.conditions.map((c) => [c.condition, c]));
}

/**
 * A run folder's distillation: not started, done or unfinished with `config`'s settings, or made with other ones
 * (`stale`: the folder is the benchmark's own, so it is redone rather than refused).
 */
function distillState(config: ExperimentConfig): 'none' | 'done' | 'unfinished' | 'stale' {
  const record = new RunFolder(config).manifest().stages.distill;
  if (!record) return 'none';
  if (record.configHash !== stageConfigHash(config, 'distill')) return 'stale';
  return record.status === 'done' ? 'done' : 'unfinished';
}

async function runDataset(name: DatasetName, options: { out: string; dataDir: string; quick: boolean; rl: RLSettings; seeds: number[] }): Promise<SeedResult[]> {
  const sharedConfig = experiment(name, name, 0, { ...options, conditions: ['distilled', 'rl'] });
  const sharedState = distillState(sharedConfig);
  if (sharedState !== 'done') {
    process.stderr.write(`${name}: distilling the shared student in ${sharedConfig.output}/${sharedConfig.name}\n`);
    const stale = sharedState === 'stale';
    await runExperiment(sharedConfig, { implementations: STAGE_IMPLEMENTATIONS, stages: SHARED_STAGES, resume: !stale, restart: stale });
  }
  const shared = new RunFolder(sharedConfig);
  if (options.rl.prompts === 'recombined') {
    const train = readJsonl(shared.path('data', 'train.jsonl')) as Example[];
    writeJsonl(promptsFile(options.out, name), recombinedQuestions(name, train, RECOMBINED_PROMPTS, 0).map((e) => ({ question: e.question, answer: e.answers[0] })));
  }
  const implementations = { ...STAGE_IMPLEMENTATIONS, ...Object.fromEntries(SHARED_STAGES.map((s) => [s, copiedStage(shared, s)])) };
  const results: SeedResult[] = [];
  let distilled: ConditionResult | undefined;
  for (const seed of options.seeds) {
    // The distilled student's greedy rationales are the same for every seed: evaluated once, with the first seed.
    const config = experiment(name, `${name}-seed${seed}`, seed, { ...options, conditions: distilled ? ['rl'] : ['distilled', 'rl'] });
    process.stderr.write(`${name}: RL seed ${seed} in ${config.output}/${config.name}\n`);
    const stale = distillState(config) === 'stale';
    await runExperiment(config, { implementations, resume: !stale, restart: stale });
    const run = new RunFolder(config);
    const conditions = readConditions(run);
    distilled ??= conditions.get('distilled');
    if (!distilled) throw new Error(`${run.root}: eval/results.json has no "distilled" condition`);
    results.push({ seed, distilled, rl: conditions.get('rl')!, curve: readCurve(run) });
  }
  return results;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample standard deviation (n - 1), 0 for one value. */
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const spread = (xs: number[], digits: number) => `${mean(xs).toFixed(digits)} ± ${std(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}, ${Math.max(...xs).toFixed(digits)}]`;
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

function printCurves(name: DatasetName, results: SeedResult[]): void {
  console.log(`\n${name}: composite reward / answer-correctness per iteration (mean over the iteration's rollouts)`);
  const iterations = Math.max(...results.map((r) => r.curve.length));
  const step = Math.max(1, Math.ceil(iterations / 12));
  console.log(`| iteration | ${results.map((r) => `seed ${r.seed}`).join(' | ')} |`);
  console.log(`|---|${results.map(() => '---|').join('')}`);
  for (let i = 0; i < iterations; i += step) {
    const cells = results.map((r) => {
      const row = r.curve[i];
      return row ? `${(row['reward/total/mean'] ?? Number.NaN).toFixed(3)} / ${(row['reward/answer-correctness/mean'] ?? Number.NaN).toFixed(2)}` : '';
    });
    console.log(`| ${i + 1} | ${cells.join(' | ')} |`);
  }
}

function printTable(all: Partial<Record<DatasetName, SeedResult[]>>): void {
  const names = DATASETS.filter((n) => all[n]);
  const line = (label: string, cell: (r: SeedResult[]) => string) => console.log(`| ${label} | ${names.map((n) => cell(all[n]!)).join(' | ')} |`);
  console.log('\nheld-out split, mean ± sample std [min, max] over RL seeds');
  console.log(`| | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---|').join('')}`);
  line('judge accuracy %, distilled', (r) => spread(r.map((s) => 100 * s.distilled.accuracy), 1));
  line('**judge accuracy %, RL**', (r) => `**${spread(r.map((s) => 100 * s.rl.accuracy), 1)}**`);
  line('composite reward, distilled', (r) => spread(r.map((s) => s.distilled.rewards?.total ?? Number.NaN), 3));
  line('**composite reward, RL**', (r) => `**${spread(r.map((s) => s.rl.rewards?.total ?? Number.NaN), 3)}**`);
  line('repetition rate, distilled / RL', (r) => `${spread(r.map((s) => s.distilled.repetitionRate ?? Number.NaN), 3)} / ${spread(r.map((s) => s.rl.repetitionRate ?? Number.NaN), 3)}`);
  line('mean length (chars), distilled / RL', (r) => `${spread(r.map((s) => s.distilled.meanLength ?? Number.NaN), 0)} / ${spread(r.map((s) => s.rl.meanLength ?? Number.NaN), 0)}`);
  line('held-out questions', (r) => String(r[0].rl.n));
}

/** The summary line: per seed, in seed order. */
function summary(results: SeedResult[]): Record<string, number[]> {
  const per = (f: (s: SeedResult) => number | undefined) => results.map((s) => round(f(s) ?? Number.NaN));
  return {
    seeds: results.map((s) => s.seed),
    judgeAccuracyDistilled: per((s) => s.distilled.accuracy), judgeAccuracyRL: per((s) => s.rl.accuracy),
    rewardDistilled: per((s) => s.distilled.rewards?.total), rewardRL: per((s) => s.rl.rewards?.total),
    repetitionRateDistilled: per((s) => s.distilled.repetitionRate), repetitionRateRL: per((s) => s.rl.repetitionRate),
    meanLengthDistilled: per((s) => s.distilled.meanLength), meanLengthRL: per((s) => s.rl.meanLength),
  };
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('dataset', { type: 'string', array: true, describe: `datasets (${DATASETS.join(', ')}); default both` })
    .option('quick', { type: 'boolean', default: false, describe: 'tiny slice, tiny student, 2 RL iterations' })
    .option('seeds', { type: 'string', default: SEEDS.join(','), describe: 'RL seeds, comma-separated' })
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'data folder (default: RRL_DATA_DIR, else the repository data/)' })
    .option('out', { type: 'string', describe: 'folder of the run folders (default checkpoints/bench-rl, -quick with --quick)' })
    .option('distill-epochs', { type: 'number', describe: 'distillation epochs of the shared student (default per dataset)' })
    .option('iterations', { type: 'number', describe: `RL iterations (default ${Object.entries(RL_ITERATIONS).map(([n, i]) => `${i} ${n}`).join(', ')}; 2 with --quick)` })
    .option('batch-size', { type: 'number', describe: 'prompts per iteration (default 8, 4 with --quick)' })
    .option('algorithm', { choices: ['grpo', 'rloo', 'ppo'] as const, default: 'grpo' as const })
    .option('prompts', { choices: ['recombined', 'train'] as const, default: 'recombined' as const, describe: 'RL questions: recombined from the train split\'s words/people, or the train split itself' })
    .option('samples', { type: 'number', default: 8, describe: 'rationales sampled per prompt' })
    .option('lr', { type: 'number', default: 2e-4 })
    .option('kl', { type: 'number', default: 0.05, describe: 'KL penalty coefficient (fixed)' })
    .option('temperature', { type: 'number', default: 0.6, describe: 'rollout sampling temperature' })
    .option('eval-limit', { type: 'number', describe: `score only the first N held-out questions (${QUICK_EVAL_LIMIT} with --quick)` })
    .strict()
    .parse();
  const requested = (argv.dataset ?? [...DATASETS]).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  const unknown = requested.find((d) => !(DATASETS as readonly string[]).includes(d));
  if (unknown) throw new Error(`--dataset: unknown dataset "${unknown}" (known: ${DATASETS.join(', ')})`);
  const seeds = argv.seeds.split(',').map((s) => Number(s.trim()));
  if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--seeds: "${argv.seeds}" is not a list of non-negative integers`);
  if (!existsSync(argv['data-dir'])) throw new Error(`--data-dir: ${argv['data-dir']} does not exist`);
  const out = argv.out ?? join('checkpoints', argv.quick ? 'bench-rl-quick' : 'bench-rl');
  const rl: RLSettings = {
    distillEpochs: argv['distill-epochs'],
    iterations: argv.iterations, batchSize: argv['batch-size'] ?? (argv.quick ? 4 : 8),
    algorithm: argv.algorithm, prompts: argv.prompts, samplesPerPrompt: argv.samples, learningRate: argv.lr, klCoef: argv.kl, temperature: argv.temperature,
    evalLimit: argv['eval-limit'] ?? (argv.quick ? QUICK_EVAL_LIMIT : undefined),
  };
  const backend = await initBackend();
  const all: Partial<Record<DatasetName, SeedResult[]>> = {};
  for (const name of requested as DatasetName[]) {
    all[name] = await runDataset(name, { out, dataDir: argv['data-dir'], quick: argv.quick, rl, seeds });
  }
  // Merged into the file, so a run of one dataset keeps the other's curves.
  const curvesFile = join(out, 'curves.json');
  const curves = existsSync(curvesFile) ? JSON.parse(readFileSync(curvesFile, 'utf8')) as Record<string, unknown> : {};
  for (const [name, results] of Object.entries(all)) curves[name] = Object.fromEntries(results.map((r) => [`seed${r.seed}`, r.curve]));
  writeJsonAtomic(curvesFile, curves);
  console.log(`\n${rl.algorithm.toUpperCase()} rationale refinement from the distilled student (backend ${backend.name}${argv.quick ? ', --quick slice' : ''}); `
    + `${rl.iterations ?? (argv.quick ? 2 : JSON.stringify(RL_ITERATIONS))} iterations x ${rl.batchSize} ${rl.prompts} prompts x ${rl.samplesPerPrompt} samples, lr ${rl.learningRate}, KL ${rl.klCoef}, `
    + `temperature ${rl.temperature}; reward ${REWARD_EXPRESSION}; curves in ${curvesFile}`);
  for (const [name, results] of Object.entries(all)) printCurves(name as DatasetName, results);
  printTable(all);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(all).map(([name, results]) => [name, summary(results)]))));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

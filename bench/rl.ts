/**
 * `npm run bench:rl`: rationale refinement with RL (GRPO by default) on Last Letter Concatenation and Coin Flip, over
 * 4 distillation seeds x 3 RL seeds on Last Letter and 2 x 3 on Coin Flip.
 *
 * For each dataset and distillation seed d, one experiment run (`checkpoints/bench-rl/<dataset>-d<d>`) splits the
 * questions 70/30 (seed d), imports the real GPT-3 zero-shot-CoT rationales as the teacher and distils the student
 * with bench:distill's recipe (`bench/distill-recipe.ts`, the same code path: teacher-correct rows plus recombined
 * rows, word-char tokens, Llama d64/2-layer, seed d). Each RL seed k has its own run folder (`<dataset>-d<d>-seed<k>`)
 * whose data, teacher and distill stages copy the shared run's files, then refines the distilled student with GRPO
 * against answer-correctness judged by a frozen copy of the distilled student (`--reward composite`: the built-in
 * composite, quality gated by correctness) on fresh questions: on Last Letter over real names from a names list that
 * no question of the dataset has and no validation question uses (`--prompts listed`), on Coin Flip over novel names
 * made from the train split's names (`novel`; `recombined`: the train split's own names; `train`: the train split),
 * sampled at temperature 1, one optimizer step per epoch over an iteration's rationales (16 questions x 8 on Last
 * Letter, 8 x 8 on Coin Flip), and evaluates on the held-out split: judge accuracy,
 * the run's reward, repetition rate and mean rationale length, for the distilled and the RL student, with the paired
 * statistics of the eval stage (bootstrap interval, McNemar p) per run. To choose settings without the test split,
 * `--validation names` evaluates on questions over real names from a names list that no question of the dataset has
 * (run folders `<dataset>-d<d>-val-names[-<tag>]-seed<k>`), `--validation novel` on questions over other novel names
 * (`<dataset>-d<d>-val[-<tag>]-seed<k>`).
 *
 * Every run folder is an ordinary experiment run, so an interrupted benchmark continues where it stopped when run
 * again. Prints the commit, the reward curves and a table with mean, spread and 95% t-intervals over runs; writes
 * the curves to `checkpoints/bench-rl/curves.json`; the last line is one JSON object.
 *
 *   npm run bench:rl                                  # both datasets, distillation seeds 0-3 (Coin Flip 0,1) x RL seeds 1,2,3
 *   npm run bench:rl -- --dataset last_letters        # one
 *   npm run bench:rl -- --quick                       # a tiny slice, tiny model, 2 iterations (smoke test)
 *   npm run bench:rl -- --validation names --tag lr5e-5 --lr 5e-5 --distill-seeds 0 --seeds 1   # a tuning run (see --help)
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { gitCommit } from './commit';
import { initBackend } from '../lib/backend';
import type { ConditionResult } from '../lib/eval/report';
import {
  RunFolder, runExperiment, STAGE_IMPLEMENTATIONS, stageConfigHash, validateExperiment,
  type EvalResults, type ExperimentConfig, type ExperimentInput, type StageFunction, type StageName,
} from '../lib/experiment';
import { defaultDataDir, readDataFile } from '../lib/data/files';
import { readMetrics } from '../lib/log/metrics';
import { readJsonl, writeJsonl } from '../lib/data/jsonl';
import { readRationales } from '../lib/data/rationales';
import type { Example } from '../lib/data/types';
import { compareConditions, nestedSeedSummary, seedSummary, type PairedComparison } from '../lib/eval/stats';
import { writeJsonAtomic } from '../lib/fs';
import { saveCheckpoint } from '../lib/model/checkpoint';
import { readSplit } from '../lib/experiment/stages/data';
import { distillWithRecipe, QUICK_RECIPE, RECIPE_SETTINGS, type RecipeSettings } from './distill-recipe';
import { NAMES_LIST, namePools, recombinedQuestions, trainNames, type NamePools } from './rl-prompts';

type DatasetName = 'last_letters' | 'coin_flip';
const DATASETS: readonly DatasetName[] = ['last_letters', 'coin_flip'];
const SEEDS = [1, 2, 3];
/** The stages an RL seed takes over from the shared distillation run. */
const SHARED_STAGES: StageName[] = ['data', 'teacher', 'distill'];

/**
 * Distillation seeds per dataset: four Last Letter students give the student-level interval 3 degrees of freedom;
 * Coin Flip's students sit at the ceiling, and each distils for about 16 minutes.
 */
const DISTILL_SEEDS: Record<DatasetName, number[]> = { last_letters: [0, 1, 2, 3], coin_flip: [0, 1] };

/** The experiment's student and distill sections matching a recipe (the RL and eval stages read maxNewTokens). */
function recipeSections(recipe: RecipeSettings): Pick<ExperimentInput, 'student' | 'distill'> {
  return {
    student: { arch: recipe.arch, dModel: recipe.dModel, nLayers: recipe.nLayers, nHeads: recipe.nHeads, maxSeqLen: recipe.maxSeqLen, tokenizer: 'word-char' },
    distill: { epochs: recipe.epochs, batchSize: recipe.batchSize, learningRate: recipe.peakLr, evalEvery: recipe.epochs, maxNewTokens: recipe.maxNewTokens },
  };
}

/** RL iterations per dataset (sized so a dataset's runs fit about an hour of 2 cores); Coin Flip's rationales are about twice as long. */
const RL_ITERATIONS: Record<DatasetName, number> = { last_letters: 40, coin_flip: 16 };
/** RL learning rate per dataset: Last Letter's chosen on its validation questions for the recipe's students (README). */
const RL_LEARNING_RATE: Record<DatasetName, number> = { last_letters: 1e-4, coin_flip: 2e-4 };
/** Questions per RL iteration per dataset (4 with --quick): Last Letter's chosen on its validation questions (README). */
const RL_BATCH_SIZE: Record<DatasetName, number> = { last_letters: 16, coin_flip: 8 };
/** Rationales per PPO minibatch; by default an epoch's minibatches make one optimizer step (gradient accumulation). */
const MINIBATCH_SIZE = 16;
/** The names of the RL questions per dataset: Last Letter's chosen on its validation questions (README). */
const RL_PROMPTS: Record<DatasetName, RLPrompts> = { last_letters: 'listed', coin_flip: 'novel' };

/** A per-dataset default for `--help`, e.g. "40 last_letters; 16 coin_flip" (a list's values comma-separated). */
const perDataset = (values: Record<DatasetName, number | number[] | string>) => Object.entries(values).map(([name, v]) => `${String(v)} ${name}`).join('; ');

/** Fresh RL questions per dataset (`--prompts novel`, `listed` or `recombined`). */
const RECOMBINED_PROMPTS = 3000;

const QUICK_EVAL_LIMIT = 12;

/**
 * How RL settings are chosen without the test split (`--validation`): on questions over real names from the names
 * list (`names`) or over novel names (`novel`); `none` evaluates on the test split.
 */
type Validation = 'none' | 'names' | 'novel';
/** `--validation`: questions recombined from the train split (seed VALIDATION_SEED + distillation seed) evaluated instead of the test split. */
const VALIDATION_QUESTIONS = 150;
const VALIDATION_SEED = 1000;

/**
 * RL questions: recombined from the train split's words/people ({@link recombinedQuestions}) over the train split's
 * (`recombined`), novel or listed names, or the train split itself.
 */
type RLPrompts = 'recombined' | 'novel' | 'listed' | 'train';

/** The RL settings a run can override from the command line. */
interface RLSettings {
  algorithm: 'ppo' | 'rloo' | 'grpo';
  /** RL questions; default per dataset ({@link RL_PROMPTS}). */
  prompts?: RLPrompts;
  /** RL iterations; default per dataset ({@link RL_ITERATIONS}). */
  iterations?: number;
  /** Questions per iteration; default per dataset ({@link RL_BATCH_SIZE}). */
  batchSize?: number;
  samplesPerPrompt: number;
  /** AdamW learning rate; default per dataset ({@link RL_LEARNING_RATE}). */
  learningRate?: number;
  klCoef: number;
  temperature: number;
  /** GRPO's divisor of r − mean(group) (`advantageScaling`). */
  advantageScaling: 'group' | 'batch' | 'none';
  /** Minibatches whose gradients make one optimizer step (`gradientAccumulationSteps`); default all of an epoch's. */
  gradientAccumulationSteps?: number;
  /** The composite of the built-in rewards, or answer-correctness alone. */
  reward: 'composite' | 'correctness';
  evalLimit?: number;
}

/** The built-in rewards; quality counts only with a right answer, so a short or empty rationale cannot win alone. */
const REWARD_WEIGHTS = { 'answer-correctness': 1, factuality: 0.5, relevance: 0.3, coherence: 0.2, 'length-guard': 0.2 };
/** Each name stands for weight x score: answer_correctness * (1 + 0.5 f + 0.3 r + 0.2 c) + 0.2 length_guard. */
const REWARD_EXPRESSION = 'answer_correctness * (1 + factuality + relevance + coherence) + length_guard';

/** Where a dataset's recombined RL questions are written (as `{question, answer}` lines). */
const promptsFile = (out: string, name: DatasetName, distillSeed: number, kind: RLPrompts) => join(out, `${name}-d${distillSeed}-rl-prompts${kind === 'recombined' ? '' : `-${kind}`}.jsonl`);

/** A distillation seed's name pools ({@link namePools}) from its split and the names list. */
function namePoolsOf(name: DatasetName, split: { train: Example[]; test: Example[] }, distillSeed: number, dataDir: string): NamePools {
  const list = readDataFile(join(dataDir, NAMES_LIST)).toString('utf8').split('\n').filter(Boolean);
  return namePools(name, split, list, distillSeed, VALIDATION_SEED + distillSeed);
}

/** What `--distill-epochs` and `--distill-lr` override in the recipe. */
type RecipeOverrides = Partial<Pick<RecipeSettings, 'epochs' | 'peakLr'>>;

/** The distillation recipe of a dataset: bench:distill's (QUICK_RECIPE with --quick) with the command line's overrides. */
function recipeOf(name: DatasetName, options: { quick: boolean; recipe: RecipeOverrides }): RecipeSettings {
  return { ...(options.quick ? QUICK_RECIPE : RECIPE_SETTINGS[name]), ...options.recipe };
}

function experiment(name: DatasetName, runName: string, seed: number, distillSeed: number, options: { out: string; dataDir: string; quick: boolean; recipe: RecipeOverrides; rl: RLSettings; conditions: ('distilled' | 'rl')[] }): ExperimentConfig {
  const sections = recipeSections(recipeOf(name, options));
  const distill = sections.distill as { maxNewTokens: number };
  const prompts = options.rl.prompts ?? RL_PROMPTS[name];
  const batchSize = options.rl.batchSize ?? (options.quick ? 4 : RL_BATCH_SIZE[name]);
  const gradientAccumulationSteps = options.rl.gradientAccumulationSteps ?? Math.ceil(batchSize * options.rl.samplesPerPrompt / MINIBATCH_SIZE);
  return validateExperiment({
    name: runName, seed, output: options.out,
    data: { source: { kind: 'dataset', name, dataDir: options.dataDir }, testFraction: 0.3 },
    teacher: { kind: 'recorded', path: join(options.dataDir, 'zero-shot-cot', 'teacher-rationales', `${name}.jsonl`) },
    ...sections,
    judge: { kind: 'student-copy' },
    rewards: options.rl.reward === 'composite' ? { weights: REWARD_WEIGHTS, expression: REWARD_EXPRESSION } : { weights: { 'answer-correctness': 1 } },
    rl: {
      algorithm: options.rl.algorithm, iterations: options.rl.iterations ?? (options.quick ? 2 : RL_ITERATIONS[name]), batchSize, samplesPerPrompt: options.rl.samplesPerPrompt,
      prompts: prompts === 'train' ? { kind: 'train' }
        : { kind: 'file', path: promptsFile(options.out, name, distillSeed, prompts), mapping: { question: 'question', answer: 'answer' }, answerType: name === 'coin_flip' ? 'yes-no' : 'text' },
      ppoEpochs: 2, minibatchSize: MINIBATCH_SIZE, gradientAccumulationSteps, learningRate: options.rl.learningRate ?? RL_LEARNING_RATE[name], kl: { coef: options.rl.klCoef },
      temperature: options.rl.temperature, advantageScaling: options.rl.advantageScaling, maxNewTokens: distill.maxNewTokens, checkpointEvery: 5,
    },
    eval: { conditions: options.conditions, samples: 4, ...(options.rl.evalLimit ? { limit: options.rl.evalLimit } : {}) },
  }, `bench:rl ${runName}`);
}

/**
 * The distill stage of a shared run: bench:distill's recipe on the run's train split and the teacher's recorded
 * rationales, seeded by the run's seed; the student goes to `distill/best` like the ordinary stage's.
 */
function recipeStage(name: DatasetName, recipe: RecipeSettings): StageFunction {
  return async (context) => {
    const { train, test } = readSplit(context);
    const records = readRationales(context.outputsOf('teacher').rationales);
    const result = await distillWithRecipe(name, recipe, { train, test, records },
      { seed: context.config.seed, tokenizer: 'word-char', progress: (line) => process.stderr.write(`${line}\n`) });
    try {
      await saveCheckpoint(`${context.dir}/best`, { model: result.model, tokenizer: result.tokenizer });
      writeJsonl(`${context.dir}/predictions.jsonl`, result.predictions);
      const accuracy = result.predictions.filter((p) => p.correct).length / Math.max(1, result.predictions.length);
      return {
        outputs: { best: 'distill/best', predictions: 'distill/predictions.jsonl' },
        summary: { testAccuracy: accuracy, recordsKept: result.trainRecords, recordsAugmented: result.augmentedRecords, params: result.model.numParams(), trainSeconds: Math.round(result.trainSeconds) },
      };
    } finally {
      result.model.dispose();
    }
  };
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

/**
 * `--validation`: the shared run's data stage with its test split replaced by {@link VALIDATION_QUESTIONS} questions
 * over the seed's validation names ({@link namePools}; seed VALIDATION_SEED + distillation seed), so RL settings are
 * chosen without the test split. The RL stage drops any RL prompt that is also a validation question.
 */
function validationDataStage(shared: RunFolder, name: DatasetName, distillSeed: number, kind: 'names' | 'novel', dataDir: string): StageFunction {
  return async (context) => {
    const result = await copiedStage(shared, 'data')(context);
    const split = { train: readJsonl(context.run.path('data', 'train.jsonl')) as Example[], test: readJsonl(context.run.path('data', 'test.jsonl')) as Example[] };
    const pools = namePoolsOf(name, split, distillSeed, dataDir);
    const validation = recombinedQuestions(name, split.train, VALIDATION_QUESTIONS, VALIDATION_SEED + distillSeed, kind === 'names' ? pools.validationListed : pools.validationNovel)
      .map((e, i) => ({ ...e, id: `validation-${name}/${i}` }));
    writeJsonl(context.run.path('data', 'test.jsonl'), validation);
    return { ...result, summary: { ...result.summary, test: validation.length, testIs: `validation: ${kind === 'names' ? 'listed names' : 'novel names'}` } };
  };
}

/** What one RL run (a distillation seed and an RL seed) reached. */
interface SeedResult {
  distillSeed: number;
  seed: number;
  distilled: ConditionResult;
  rl: ConditionResult;
  /** RL against distilled on the same held-out questions (paired bootstrap interval, McNemar p). */
  comparison: PairedComparison;
  /** Per iteration: the run's reward, each component, judge accuracy and KL. */
  curve: Record<string, number>[];
}

const CURVE_FIELDS = ['reward/total/mean', ...Object.keys(REWARD_WEIGHTS).map((n) => `reward/${n}/mean`), 'judgeAccuracy', 'kl', 'rationaleChars',
  'entropy', 'clipFraction', 'approxKL', 'flatGroups/total', 'flatGroups/answer-correctness'];

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

async function runDataset(name: DatasetName, options: { out: string; dataDir: string; quick: boolean; recipe: RecipeOverrides; rl: RLSettings; distillSeeds: number[]; seeds: number[]; validation: Validation; tag?: string }): Promise<SeedResult[]> {
  const suffix = `${{ none: '', names: '-val-names', novel: '-val' }[options.validation]}${options.tag ? `-${options.tag}` : ''}`;
  const results: SeedResult[] = [];
  for (const distillSeed of options.distillSeeds) {
    const sharedConfig = experiment(name, `${name}-d${distillSeed}`, distillSeed, distillSeed, { ...options, conditions: ['distilled', 'rl'] });
    const recipe = { ...STAGE_IMPLEMENTATIONS, distill: recipeStage(name, recipeOf(name, options)) };
    const sharedState = distillState(sharedConfig);
    if (sharedState !== 'done') {
      process.stderr.write(`${name}: distilling the shared student (seed ${distillSeed}) in ${sharedConfig.output}/${sharedConfig.name}\n`);
      const stale = sharedState === 'stale';
      await runExperiment(sharedConfig, { implementations: recipe, stages: SHARED_STAGES, resume: false, restart: stale || sharedState === 'unfinished' });
    }
    const shared = new RunFolder(sharedConfig);
    const prompts = options.rl.prompts ?? RL_PROMPTS[name];
    if (prompts !== 'train') {
      const split = { train: readJsonl(shared.path('data', 'train.jsonl')) as Example[], test: readJsonl(shared.path('data', 'test.jsonl')) as Example[] };
      const names = prompts === 'recombined' ? trainNames(name, split.train) : namePoolsOf(name, split, distillSeed, options.dataDir)[prompts];
      writeJsonl(promptsFile(options.out, name, distillSeed, prompts), recombinedQuestions(name, split.train, RECOMBINED_PROMPTS, distillSeed, names).map((e) => ({ question: e.question, answer: e.answers[0] })));
    }
    const implementations = { ...STAGE_IMPLEMENTATIONS, ...Object.fromEntries(SHARED_STAGES.map((s) => [s, copiedStage(shared, s)])),
      ...(options.validation !== 'none' ? { data: validationDataStage(shared, name, distillSeed, options.validation, options.dataDir) } : {}) };
    for (const seed of options.seeds) {
      // Every run evaluates both students (the distilled one's greedy rationales are the same in each), so its
      // config does not depend on which runs came first and runs can go to processes of their own.
      const config = experiment(name, `${name}-d${distillSeed}${suffix}-seed${seed}`, seed, distillSeed, { ...options, conditions: ['distilled', 'rl'] });
      process.stderr.write(`${name}: distillation seed ${distillSeed}, RL seed ${seed} in ${config.output}/${config.name}\n`);
      const stale = distillState(config) === 'stale';
      await runExperiment(config, { implementations, resume: !stale, restart: stale });
      const run = new RunFolder(config);
      const conditions = readConditions(run);
      const distilled = conditions.get('distilled');
      if (!distilled?.correct) throw new Error(`${run.root}: eval/results.json has no "distilled" condition with per-question results`);
      const rl = conditions.get('rl')!;
      const comparison = compareConditions({ condition: 'distilled', correct: distilled.correct }, { condition: 'rl', correct: rl.correct ?? [] }, { seed });
      results.push({ distillSeed, seed, distilled, rl, comparison, curve: readCurve(run) });
    }
  }
  return results;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample standard deviation (n - 1), 0 for one value. */
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const spread = (xs: number[], digits: number) => `${mean(xs).toFixed(digits)} ± ${std(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}, ${Math.max(...xs).toFixed(digits)}]`;
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

const runLabel = (r: SeedResult) => `d${r.distillSeed}/s${r.seed}`;

function printCurves(name: DatasetName, results: SeedResult[]): void {
  console.log(`\n${name}: reward / answer-correctness per iteration (mean over the iteration's rollouts; run = distillation seed / RL seed)`);
  const iterations = Math.max(...results.map((r) => r.curve.length));
  const step = Math.max(1, Math.ceil(iterations / 12));
  console.log(`| iteration | ${results.map(runLabel).join(' | ')} |`);
  console.log(`|---|${results.map(() => '---|').join('')}`);
  for (let i = 0; i < iterations; i += step) {
    const cells = results.map((r) => {
      const row = r.curve[i];
      return row ? `${(row['reward/total/mean'] ?? Number.NaN).toFixed(3)} / ${(row['reward/answer-correctness/mean'] ?? Number.NaN).toFixed(2)}` : '';
    });
    console.log(`| ${i + 1} | ${cells.join(' | ')} |`);
  }
}

/** RL minus distilled judge accuracy of each run, percentage points (paired: the same questions, the run's own student). */
const accuracyDiffs = (results: SeedResult[]) => results.map((r) => 100 * (r.rl.accuracy - r.distilled.accuracy));
/** The same differences with the distilled students as the independent units: t-interval over each student's mean difference. */
const studentDiffs = (results: SeedResult[]) => nestedSeedSummary(accuracyDiffs(results), results.map((r) => r.distillSeed));
const interval = ([lo, hi]: [number, number], digits: number) => `[${lo.toFixed(digits)}, ${hi.toFixed(digits)}]`;

function printTable(all: Partial<Record<DatasetName, SeedResult[]>>): void {
  const names = DATASETS.filter((n) => all[n]);
  const line = (label: string, cell: (r: SeedResult[]) => string) => console.log(`| ${label} | ${names.map((n) => cell(all[n]!)).join(' | ')} |`);
  console.log('\nheld-out split, mean ± sample std [min, max] over runs (distillation seeds x RL seeds); 95% t-interval of the mean over runs');
  console.log(`| | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---|').join('')}`);
  line('runs (distillation seeds x RL seeds)', (r) => `${r.length} (${[...new Set(r.map((s) => s.distillSeed))].join(',')} x ${[...new Set(r.map((s) => s.seed))].join(',')})`);
  line('judge accuracy %, distilled', (r) => spread(r.map((s) => 100 * s.distilled.accuracy), 1));
  line('**judge accuracy %, RL**', (r) => `**${spread(r.map((s) => 100 * s.rl.accuracy), 1)}**`);
  line('**RL − distilled, points: mean, 95% t-interval over runs**', (r) => {
    const summary = seedSummary(accuracyDiffs(r));
    return `**${summary.mean.toFixed(1)} ${interval(summary.ci95, 1)}**`;
  });
  line('RL − distilled, points: 95% t-interval over the distilled students\' mean differences (runs nested in students)', (r) => {
    const summary = studentDiffs(r);
    return `${interval(summary.ci95, 1)} (${summary.n} students)`;
  });
  line('RL − distilled per run, points [paired bootstrap 95%] McNemar p', (r) => r.map((s) => `${runLabel(s)}: ${s.comparison.diff.toFixed(1)} ${interval(s.comparison.ci95, 1)} p ${s.comparison.pValue.toPrecision(2)}`).join('; '));
  line('reward (the run\'s, `--reward`), distilled', (r) => spread(r.map((s) => s.distilled.rewards?.total ?? Number.NaN), 3));
  line('**reward, RL**', (r) => `**${spread(r.map((s) => s.rl.rewards?.total ?? Number.NaN), 3)}**`);
  line('repetition rate, distilled / RL', (r) => `${spread(r.map((s) => s.distilled.repetitionRate ?? Number.NaN), 3)} / ${spread(r.map((s) => s.rl.repetitionRate ?? Number.NaN), 3)}`);
  line('mean length (chars), distilled / RL', (r) => `${spread(r.map((s) => s.distilled.meanLength ?? Number.NaN), 0)} / ${spread(r.map((s) => s.rl.meanLength ?? Number.NaN), 0)}`);
  line('held-out questions', (r) => String(r[0].rl.n));
}

/**
 * The summary line: per run (in `distillSeeds` / `seeds` order); `diffCI95` is the 95% t-interval of the mean of
 * the runs' RL − distilled judge accuracy, percentage points, paired over runs; `diffCI95Students` the t-interval
 * over the distilled students' mean differences (the RL runs of one student are not independent of each other).
 */
function summary(results: SeedResult[]): Record<string, unknown> {
  const per = (f: (s: SeedResult) => number | undefined) => results.map((s) => round(f(s) ?? Number.NaN));
  const diff = seedSummary(accuracyDiffs(results));
  return {
    distillSeeds: results.map((s) => s.distillSeed), seeds: results.map((s) => s.seed),
    judgeAccuracyDistilled: per((s) => s.distilled.accuracy), judgeAccuracyRL: per((s) => s.rl.accuracy),
    diffMean: round(diff.mean, 2), diffStd: round(diff.std, 2), diffCI95: diff.ci95.map((x) => round(x, 2)),
    diffCI95Kind: 'paired over runs: t-interval of the mean RL - distilled judge accuracy (points), n - 1 degrees of freedom',
    diffCI95Students: studentDiffs(results).ci95.map((x) => round(x, 2)),
    diffCI95StudentsKind: 'runs nested in distilled students: t-interval over the students\' mean differences (points), students - 1 degrees of freedom',
    bootstrapCI95: results.map((s) => s.comparison.ci95.map((x) => round(x, 2))), mcnemarP: per((s) => s.comparison.pValue),
    rewardDistilled: per((s) => s.distilled.rewards?.total), rewardRL: per((s) => s.rl.rewards?.total),
    repetitionRateDistilled: per((s) => s.distilled.repetitionRate), repetitionRateRL: per((s) => s.rl.repetitionRate),
    meanLengthDistilled: per((s) => s.distilled.meanLength), meanLengthRL: per((s) => s.rl.meanLength),
  };
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('dataset', { type: 'string', array: true, describe: `datasets (${DATASETS.join(', ')}); default both` })
    .option('quick', { type: 'boolean', default: false, describe: 'tiny slice, tiny student, 2 RL iterations' })
    .option('distill-seeds', { type: 'string', describe: `distillation seeds (split, recombined rows, initialisation), comma-separated (default ${perDataset(DISTILL_SEEDS)})` })
    .option('seeds', { type: 'string', default: SEEDS.join(','), describe: 'RL seeds, comma-separated' })
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'data folder (default: RRL_DATA_DIR, else the repository data/)' })
    .option('out', { type: 'string', describe: 'folder of the run folders (default checkpoints/bench-rl, -quick with --quick)' })
    .option('distill-epochs', { type: 'number', describe: 'distillation epochs (default the recipe\'s: bench/distill-recipe.ts); use another --out, since the shared students of a folder are redistilled when their settings change' })
    .option('distill-lr', { type: 'number', describe: 'distillation peak learning rate (default the recipe\'s); with another --out, as --distill-epochs' })
    .option('iterations', { type: 'number', describe: `RL iterations (default ${perDataset(RL_ITERATIONS)}; 2 with --quick)` })
    .option('batch-size', { type: 'number', describe: `questions per iteration (default ${perDataset(RL_BATCH_SIZE)}; 4 with --quick)` })
    .option('algorithm', { choices: ['grpo', 'rloo', 'ppo'] as const, default: 'grpo' as const })
    .option('prompts', { choices: ['recombined', 'novel', 'listed', 'train'] as const, describe: `RL questions (default ${perDataset(RL_PROMPTS)}): recombined from the train split\'s words/people, recombined with novel names made from them, with real names from data/${NAMES_LIST} that no question of the dataset has and no validation question uses (listed), or the train split itself` })
    .option('samples', { type: 'number', default: 8, describe: 'rationales sampled per prompt' })
    .option('lr', { type: 'number', describe: `RL learning rate (default ${perDataset(RL_LEARNING_RATE)})` })
    .option('kl', { type: 'number', default: 0.05, describe: 'KL penalty coefficient (fixed)' })
    .option('temperature', { type: 'number', default: 1, describe: 'rollout sampling temperature' })
    .option('scaling', { choices: ['group', 'batch', 'none'] as const, default: 'group' as const, describe: 'GRPO advantage scaling (rl.advantageScaling)' })
    .option('grad-accum', { type: 'number', describe: `minibatches of ${MINIBATCH_SIZE} rationales per optimizer step (rl.gradientAccumulationSteps; default all of an epoch's: one step over an iteration's rationales)` })
    .option('reward', { choices: ['composite', 'correctness'] as const, default: 'correctness' as const, describe: 'the built-in composite, or answer-correctness alone' })
    .option('validation', { choices: ['none', 'names', 'novel'] as const, default: 'none' as const, describe: `choose RL settings without the test split: evaluate on ${VALIDATION_QUESTIONS} questions over real names from data/${NAMES_LIST} that no question of the dataset has (names; run folders <dataset>-d<d>-val-names[-<tag>]-seed<k>) or over novel names (novel; <dataset>-d<d>-val[-<tag>]-seed<k>)` })
    .option('tag', { type: 'string', describe: 'a name part for the RL run folders (<dataset>-d<d>[-val|-val-names]-<tag>-seed<k>), so runs with other settings get folders of their own' })
    .option('eval-limit', { type: 'number', describe: `score only the first N held-out questions (${QUICK_EVAL_LIMIT} with --quick)` })
    .strict()
    .parse();
  const requested = (argv.dataset ?? [...DATASETS]).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  const unknown = requested.find((d) => !(DATASETS as readonly string[]).includes(d));
  if (unknown) throw new Error(`--dataset: unknown dataset "${unknown}" (known: ${DATASETS.join(', ')})`);
  const seedList = (option: string, text: string) => {
    const values = text.split(',').map((s) => Number(s.trim()));
    if (values.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--${option}: "${text}" is not a list of non-negative integers`);
    return values;
  };
  const seeds = seedList('seeds', argv.seeds);
  const distillSeeds = argv['distill-seeds'] === undefined ? undefined : seedList('distill-seeds', argv['distill-seeds']);
  const commit = gitCommit();
  process.stderr.write(`bench:rl on commit ${commit}\n`);
  if (!existsSync(argv['data-dir'])) throw new Error(`--data-dir: ${argv['data-dir']} does not exist`);
  const out = argv.out ?? join('checkpoints', argv.quick ? 'bench-rl-quick' : 'bench-rl');
  const rl: RLSettings = {
    iterations: argv.iterations, batchSize: argv['batch-size'],
    algorithm: argv.algorithm, prompts: argv.prompts, samplesPerPrompt: argv.samples, learningRate: argv.lr, klCoef: argv.kl, temperature: argv.temperature,
    advantageScaling: argv.scaling, reward: argv.reward, gradientAccumulationSteps: argv['grad-accum'],
    evalLimit: argv['eval-limit'] ?? (argv.quick ? QUICK_EVAL_LIMIT : undefined),
  };
  const recipe: RecipeOverrides = Object.fromEntries(Object.entries({ epochs: argv['distill-epochs'], peakLr: argv['distill-lr'] }).filter(([, v]) => v !== undefined));
  const backend = await initBackend();
  const all: Partial<Record<DatasetName, SeedResult[]>> = {};
  for (const name of requested as DatasetName[]) {
    all[name] = await runDataset(name, { out, dataDir: argv['data-dir'], quick: argv.quick, recipe, rl, distillSeeds: distillSeeds ?? DISTILL_SEEDS[name], seeds, validation: argv.validation, tag: argv.tag });
  }
  // Merged into the file, so a run of one dataset keeps the other's curves.
  const curvesFile = join(out, 'curves.json');
  const curves = existsSync(curvesFile) ? JSON.parse(readFileSync(curvesFile, 'utf8')) as Record<string, unknown> : {};
  for (const [name, results] of Object.entries(all)) curves[name] = Object.fromEntries(results.map((r) => [`d${r.distillSeed}-seed${r.seed}`, r.curve]));
  writeJsonAtomic(curvesFile, curves);
  console.log(`\ncommit ${commit}`);
  console.log(`${rl.algorithm.toUpperCase()} rationale refinement from the distilled student (backend ${backend.name}${argv.quick ? ', --quick slice' : ''}); `
    + `${rl.iterations ?? (argv.quick ? 2 : JSON.stringify(RL_ITERATIONS))} iterations x ${rl.batchSize ?? (argv.quick ? 4 : JSON.stringify(RL_BATCH_SIZE))} ${rl.prompts ?? JSON.stringify(RL_PROMPTS)} prompts x ${rl.samplesPerPrompt} samples, lr ${rl.learningRate ?? JSON.stringify(RL_LEARNING_RATE)}, ${rl.gradientAccumulationSteps ?? 'all'} minibatches per optimizer step, KL ${rl.klCoef}, `
    + `temperature ${rl.temperature}, advantage scaling ${rl.advantageScaling}; reward ${rl.reward === 'composite' ? `${REWARD_EXPRESSION} (weights ${JSON.stringify(REWARD_WEIGHTS)})` : 'answer-correctness'}; `
    + `${argv.validation === 'none' ? '' : `evaluated on ${VALIDATION_QUESTIONS} validation questions over ${argv.validation === 'names' ? 'listed' : 'novel'} names (not the test split); `}curves in ${curvesFile}`);
  for (const [name, results] of Object.entries(all)) printCurves(name as DatasetName, results);
  printTable(all);
  console.log(JSON.stringify({ commit, ...Object.fromEntries(Object.entries(all).map(([name, results]) => [name, summary(results)])) }));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

/**
 * `npm run bench:distill`: the Fine-tune-CoT replication on the real GPT-3 (text-davinci-002) zero-shot-CoT
 * rationales for Last Letter Concatenation, Coin Flip and MultiArith.
 *
 * For each dataset: split the questions 70/30 (seed 0), keep the teacher's correct rationales of the train split
 * (plus rows recombined from them for Last Letter and Coin Flip), train a small Llama-layout student from scratch
 * on word-char tokens in the Fine-tune-CoT format, and score its greedy
 * rationale's answer on the test split with the dataset's scorer. Prints a table (teacher accuracy on the same test
 * questions, student accuracy, published students, train time, parameters); the last line is one JSON object.
 *
 *   npm run bench:distill                               # all three
 *   npm run bench:distill -- --dataset last_letters     # one (repeatable, or comma-separated)
 *   npm run bench:distill -- --no-augment               # teacher records only (no recombined steps)
 *   npm run bench:distill -- --quick                    # a tiny slice, tiny model, one epoch (smoke test)
 *
 * Options --epochs, --lr, --d-model, --layers, --augment-factor override the per-dataset settings (for experiments).
 * The recipe itself (`bench/distill-recipe.ts`) is shared with `bench:rl`.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../lib/backend';
import { defaultDataDir, importRationales, loadDataset, splitExamples, writeJsonl } from '../lib/data';
import { accuracy } from '../lib/eval/predict';
import { distillWithRecipe, QUICK_RECIPE, RECIPE_SETTINGS, type RecipeDataset, type RecipeSettings } from './distill-recipe';
import { gitCommit } from './commit';

type DatasetName = RecipeDataset;
const DATASETS: readonly DatasetName[] = ['last_letters', 'coin_flip', 'multiarith'];

/** Published accuracies (%) from Fine-tune-CoT (Ho et al., 2023), as in DESIGN.md. */
const PUBLISHED: Record<DatasetName, { teacher: number; gpt2_124m: number; t5_60m: number; t5_60m_diverse: number; flan_t5_700m_diverse: number }> = {
  last_letters: { teacher: 57.7, gpt2_124m: 4.7, t5_60m: 29.3, t5_60m_diverse: 46.7, flan_t5_700m_diverse: 65.3 },
  coin_flip: { teacher: 90.0, gpt2_124m: 77.3, t5_60m: 100, t5_60m_diverse: 100, flan_t5_700m_diverse: 100 },
  multiarith: { teacher: 78.8, gpt2_124m: 8.3, t5_60m: 5.6, t5_60m_diverse: 15.0, flan_t5_700m_diverse: 20.0 },
};

const QUICK_TRAIN = 24;
const QUICK_TEST = 8;

/** What one dataset's run reached. */
interface DatasetResult {
  accuracy: number;
  teacherAccuracy: number;
  params: number;
  trainSeconds: number;
  evalSeconds: number;
  trainRecords: number;
  augmentedRecords: number;
  testQuestions: number;
  truncated: number;
  epochs: number;
  settings: RecipeSettings;
}

interface RunOptions {
  dataDir: string;
  outDir: string;
  seed: number;
  quick: boolean;
  tokenizer: 'char' | 'word-char';
}

async function runDataset(name: DatasetName, settings: RecipeSettings, options: RunOptions): Promise<DatasetResult> {
  const examples = loadDataset(name, { dataDir: options.dataDir });
  const teacher = importRationales(join(options.dataDir, 'zero-shot-cot', 'teacher-rationales', `${name}.jsonl`), { examples });
  let { train, test } = splitExamples(examples, { seed: options.seed });
  if (options.quick) [train, test] = [train.slice(0, QUICK_TRAIN), test.slice(0, QUICK_TEST)];
  const testIds = new Set(test.map((e) => e.id));
  const teacherOnTest = teacher.filter((r) => testIds.has(r.exampleId));
  const teacherAccuracy = teacherOnTest.filter((r) => r.correct).length / teacherOnTest.length;

  const result = await distillWithRecipe(name, settings, { train, test, records: teacher },
    { seed: options.seed, tokenizer: options.tokenizer, progress: (line) => process.stderr.write(`${line}\n`) });
  const { model, predictions } = result;
  writeJsonl(join(options.outDir, name, 'predictions.jsonl'), predictions);
  const out: DatasetResult = {
    accuracy: accuracy(predictions), teacherAccuracy, params: model.numParams(), trainSeconds: result.trainSeconds, evalSeconds: result.evalSeconds,
    trainRecords: result.trainRecords, augmentedRecords: result.augmentedRecords, testQuestions: test.length, truncated: result.truncated,
    epochs: settings.epochs, settings,
  };
  process.stderr.write(`${name}: accuracy ${(100 * out.accuracy).toFixed(1)}% (teacher ${(100 * teacherAccuracy).toFixed(1)}%), `
    + `train ${out.trainSeconds.toFixed(0)} s, eval ${out.evalSeconds.toFixed(0)} s, tensors ${tf.memory().numTensors}\n`);
  model.dispose();
  return out;
}

const pct = (x: number) => (100 * x).toFixed(1);

function printTable(results: Partial<Record<DatasetName, DatasetResult>>, tokenizerName: string): void {
  const names = DATASETS.filter((n) => results[n]);
  const line = (label: string, cell: (n: DatasetName) => string) => console.log(`| ${label} | ${names.map(cell).join(' | ')} |`);
  line('accuracy %, 30% test split (seed 0)', (n) => n);
  console.log(`|---|${names.map(() => '---|').join('')}`);
  line('teacher GPT-3 175B zero-shot-CoT, same test questions', (n) => pct(results[n]!.teacherAccuracy));
  line(`**this student (from scratch, ${tokenizerName} tokens)**`, (n) => `**${pct(results[n]!.accuracy)}**`);
  line('published teacher (their split)', (n) => PUBLISHED[n].teacher.toFixed(1));
  line('published GPT-2 124M Fine-tune-CoT', (n) => PUBLISHED[n].gpt2_124m.toFixed(1));
  line('published T5 60M / + diverse reasoning', (n) => `${PUBLISHED[n].t5_60m} / ${PUBLISHED[n].t5_60m_diverse}`);
  line('published Flan-T5 700M + diverse reasoning', (n) => PUBLISHED[n].flan_t5_700m_diverse.toFixed(1));
  line('student parameters', (n) => results[n]!.params.toLocaleString('en-US'));
  line('train records (teacher-correct) + augmented', (n) => `${results[n]!.trainRecords} + ${results[n]!.augmentedRecords}`);
  line('model arch d / layers / heads, epochs, peak lr', (n) => {
    const s = results[n]!.settings;
    return `${s.arch} ${s.dModel} / ${s.nLayers} / ${s.nHeads}, ${s.epochs}, ${s.peakLr}`;
  });
  line('train seconds / eval seconds', (n) => `${results[n]!.trainSeconds.toFixed(0)} / ${results[n]!.evalSeconds.toFixed(0)}`);
}

async function main(): Promise<void> {
  process.stderr.write(`bench:distill on commit ${gitCommit()}\n`);
  const argv = await yargs(hideBin(process.argv))
    .option('dataset', { type: 'string', array: true, describe: `datasets (${DATASETS.join(', ')}); default all` })
    .option('quick', { type: 'boolean', default: false, describe: 'tiny slice, tiny model, one epoch' })
    .option('tokenizer', { choices: ['word-char', 'char'] as const, default: 'word-char' as const, describe: 'student tokenizer' })
    .option('augment', { type: 'boolean', default: true, describe: 'recombined teacher steps (last_letters, coin_flip)' })
    .option('augment-factor', { type: 'number', describe: 'recombined rows as a multiple of the kept records' })
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'data folder (default: RRL_DATA_DIR, else the repository data/)' })
    .option('out', { type: 'string', default: join('checkpoints', 'bench-distill') })
    .option('seed', { type: 'number', default: 0 })
    .option('epochs', { type: 'number' })
    .option('lr', { type: 'number' })
    .option('arch', { choices: ['gpt2', 'llama'] as const })
    .option('d-model', { type: 'number' })
    .option('layers', { type: 'number' })
    .option('batch-size', { type: 'number' })
    .strict()
    .parse();
  const requested = (argv.dataset ?? [...DATASETS]).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  const unknown = requested.find((d) => !(DATASETS as readonly string[]).includes(d));
  if (unknown) throw new Error(`--dataset: unknown dataset "${unknown}" (known: ${DATASETS.join(', ')})`);
  const backend = await initBackend();
  const results: Partial<Record<DatasetName, DatasetResult>> = {};
  for (const name of requested as DatasetName[]) {
    const base = argv.quick ? QUICK_RECIPE : RECIPE_SETTINGS[name];
    const settings: RecipeSettings = {
      ...base,
      epochs: argv.epochs ?? base.epochs, peakLr: argv.lr ?? base.peakLr,
      arch: argv.arch ?? base.arch, dModel: argv['d-model'] ?? base.dModel, nLayers: argv.layers ?? base.nLayers,
      batchSize: argv['batch-size'] ?? base.batchSize, augment: argv.augment ? argv['augment-factor'] ?? base.augment : 0,
    };
    results[name] = await runDataset(name, settings, { dataDir: argv['data-dir'], outDir: argv.out, seed: argv.seed, quick: argv.quick, tokenizer: argv.tokenizer });
  }
  console.log(`\nFine-tune-CoT on GPT-3 zero-shot-CoT rationales (backend ${backend.name}${argv.quick ? ', --quick slice' : ''})\n`);
  printTable(results, argv.tokenizer);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([name, r]) => [name, {
    accuracy: Number(pct(r.accuracy)), teacherAccuracy: Number(pct(r.teacherAccuracy)), params: r.params,
    trainSeconds: Math.round(r.trainSeconds), evalSeconds: Math.round(r.evalSeconds), trainRecords: r.trainRecords,
    augmentedRecords: r.augmentedRecords, truncatedRows: r.truncated, testQuestions: r.testQuestions, epochs: r.epochs,
  }]))));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

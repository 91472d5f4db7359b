import yargs, { type Argv } from 'yargs';
import { initBackend } from '../lib/backend';
import { ConfigError } from '../lib/experiment/config';
import { loadExperiment } from '../lib/experiment/load';
import { RunFolder, STAGES, type StageName } from '../lib/experiment/run-folder';
import { RunInterrupted, RunStateError, runExperiment } from '../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../lib/experiment/stages';
import { loadDataset } from '../lib/data/datasets';
import { readJson, readJsonl } from '../lib/data/jsonl';
import { importRationales, writeRationales } from '../lib/data/rationales';
import { splitExamples } from '../lib/data/split';
import type { Example } from '../lib/data/types';
import { renderHtmlReport, renderMarkdownReport } from '../lib/eval/report';
import { formatComparison, type PairedComparison } from '../lib/eval/stats';
import { collectReport } from '../lib/experiment/stages';
import { judgeAnswers } from '../lib/experiment/stages/eval';
import { writeFileAtomic } from '../lib/fs';
import { LocalLLMClient } from '../lib/llm/local-client';
import { startServer } from '../lib/llm/server';
import { logger } from '../lib/log/logger';
import { loadCheckpoint } from '../lib/model/checkpoint';
import { accuracy, predictWithStudent } from '../lib/train/distill';
import { listRewards, loadRewardFiles } from '../rewards/registry';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, runState: 3, interrupted: 130 } as const;

/** Map an error to an exit code and print one clear line (a stack trace only with RRL_DEBUG=1). */
function report(error: unknown): number {
  const err = error as Error;
  if (process.env.RRL_DEBUG) console.error(err.stack);
  if (err instanceof ConfigError) {
    console.error(err.message);
    return EXIT.badInput;
  }
  if (err instanceof RunInterrupted) {
    console.error(`interrupted: ${err.message}\nContinue with --resume.`);
    return EXIT.interrupted;
  }
  if (err instanceof RunStateError) {
    console.error(err.message);
    return EXIT.runState;
  }
  console.error(`error: ${err.message ?? String(error)}`);
  return EXIT.failed;
}

/** An AbortSignal raised by the first SIGINT/SIGTERM; a second one exits at once. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: string) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    logger.warn(`${name}: finishing the current step and saving a checkpoint (again to quit at once)`);
    controller.abort(new RunInterrupted(name));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  return controller.signal;
}

/** Questions from a dataset name (its test split by default) or a JSONL file of Examples. */
function questionsFrom(argv: { dataset?: string; questions?: string; dataDir: string; split: string; seed: number; limit?: number }): Example[] {
  let examples: Example[];
  if (argv.questions) examples = readJsonl(argv.questions) as Example[];
  else if (argv.dataset) {
    const all = loadDataset(argv.dataset, { dataDir: argv.dataDir });
    examples = argv.split === 'all' ? all : splitExamples(all, { seed: argv.seed })[argv.split as 'train' | 'test'];
  } else throw new ConfigError('arguments', ['give --dataset <name> or --questions <file.jsonl>']);
  return argv.limit ? examples.slice(0, argv.limit) : examples;
}

const questionArgs = (y: Argv) => y
  .option('dataset', { type: 'string', describe: 'dataset name, e.g. last_letters (see the README for the list)' })
  .option('questions', { type: 'string', describe: 'JSONL file of examples (as written to <run>/data/test.jsonl)' })
  .option('data-dir', { type: 'string', default: 'data', describe: 'folder holding the datasets' })
  .option('split', { choices: ['train', 'test', 'all'], default: 'test', describe: 'which split of --dataset' })
  .option('seed', { type: 'number', default: 0, describe: 'split seed' })
  .option('limit', { type: 'number', describe: 'only the first N questions' })
  .option('format', { choices: ['fine-tune-cot', 'mt-cot', 'mt-re'], default: 'fine-tune-cot', describe: 'the student\'s target format' })
  .option('max-new-tokens', { type: 'number', default: 128 });

const experimentArg = (y: Argv) => y
  .positional('experiment', { type: 'string', demandOption: true, describe: 'experiment file (.ts), e.g. experiments/default.ts' })
  .option('set', { type: 'string', array: true, default: [] as string[], describe: 'override a config field: --set rl.iterations=10' });

function buildParser(args: string[], done: (code: number) => void): Argv {
  let usageFailed = false;
  const run = async (fn: () => Promise<void>) => {
    if (usageFailed) return; // yargs may still call the handler after reporting a usage error
    try {
      await fn();
      done(EXIT.ok);
    } catch (error) {
      done(report(error));
    }
  };
  return yargs(args)
    .scriptName('rrl')
    .usage('$0 <command> [options]\n\nDistil, refine with RL and evaluate chain-of-thought rationales of a small LM.')
    .command('run <experiment>', 'run an experiment: data -> teacher -> distill -> rl -> eval -> report',
      (y) => experimentArg(y)
        .option('stage', { type: 'string', array: true, choices: STAGES as unknown as string[], describe: 'run only these stages' })
        .option('resume', { type: 'boolean', default: false, describe: 'continue an interrupted stage from its last checkpoint' })
        .option('restart', { type: 'boolean', default: false, describe: 'discard the selected stages\' results and run them again' })
        .example('$0 run experiments/default.ts', 'the offline default experiment')
        .example('$0 run experiments/default.ts --resume', 'continue after an interruption')
        .example('$0 run experiments/default.ts --stage eval --set eval.limit=50', 'one stage, with an override'),
      (argv) => run(async () => {
        const config = loadExperiment(argv.experiment, argv.set);
        await initBackend();
        const manifest = await runExperiment(config, {
          stages: argv.stage as StageName[] | undefined, resume: argv.resume, restart: argv.restart,
          signal: interruptSignal(), implementations: STAGE_IMPLEMENTATIONS,
        });
        const report = manifest.stages.report?.outputs.html;
        if (report) console.log(`report: ${new RunFolder(config).path(report)}`);
      }))
    .command('inspect <experiment>', 'show a run\'s stages, their status and headline numbers',
      (y) => experimentArg(y).option('json', { type: 'boolean', default: false }),
      (argv) => run(async () => {
        const folder = new RunFolder(loadExperiment(argv.experiment, argv.set, { preflight: false }));
        if (!folder.exists()) throw new RunStateError(`${folder.root}: no run yet`);
        const manifest = folder.manifest();
        const evalFile = manifest.stages.eval?.status === 'done' ? manifest.stages.eval.outputs.results : undefined;
        const comparisons = evalFile ? (readJson(folder.path(evalFile)) as { comparisons?: PairedComparison[] }).comparisons ?? [] : [];
        if (argv.json) {
          console.log(JSON.stringify({ ...manifest, comparisons }, null, 2));
          return;
        }
        console.log(`${manifest.experiment}  (${folder.root})`);
        for (const stage of STAGES) {
          const record = manifest.stages[stage];
          const numbers = Object.entries(record?.summary ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
          console.log(`  ${stage.padEnd(8)} ${(record?.status ?? 'pending').padEnd(8)} ${numbers}${record?.error ? `  error: ${record.error}` : ''}`);
        }
        if (comparisons.length) console.log(`held-out judge accuracy, paired on the same questions:\n${comparisons.map((c) => `  ${formatComparison(c)}`).join('\n')}`);
      }))
    .command('report <experiment>', 'write (again) the HTML and Markdown report of a run',
      (y) => experimentArg(y),
      (argv) => run(async () => {
        const folder = new RunFolder(loadExperiment(argv.experiment, argv.set, { preflight: false }));
        if (!folder.exists()) throw new RunStateError(`${folder.root}: no run yet`);
        const data = collectReport(folder);
        writeFileAtomic(folder.path('report', 'report.html'), renderHtmlReport(data));
        writeFileAtomic(folder.path('report', 'report.md'), renderMarkdownReport(data));
        console.log(folder.path('report', 'report.html'));
      }))
    .command('generate <checkpoint>', 'write a student checkpoint\'s rationales (and answers) for questions, as JSONL',
      (y) => questionArgs(y.positional('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint folder' }))
        .option('out', { type: 'string', describe: 'output file (default: standard output)' }),
      (argv) => run(async () => {
        await initBackend();
        const examples = questionsFrom(argv);
        const { model, tokenizer } = await loadCheckpoint(String(argv.checkpoint));
        const predictions = await predictWithStudent(model, tokenizer, examples, { format: argv.format as 'fine-tune-cot', maxNewTokens: argv.maxNewTokens });
        model.dispose();
        const lines = predictions.map((p) => JSON.stringify(p)).join('\n') + '\n';
        if (argv.out) writeFileAtomic(argv.out, lines);
        else process.stdout.write(lines);
        logger.info(`${predictions.length} rationales, student accuracy ${(accuracy(predictions) * 100).toFixed(1)}%`);
      }))
    .command('eval <checkpoint>', 'accuracy of a student checkpoint on questions: its own answers, and a judge\'s from its rationales',
      (y) => questionArgs(y.positional('checkpoint', { type: 'string', demandOption: true, describe: 'student checkpoint folder' }))
        .option('judge', { type: 'string', describe: 'judge checkpoint folder (default: the student itself, frozen)' })
        .option('json', { type: 'boolean', default: false }),
      (argv) => run(async () => {
        await initBackend();
        const examples = questionsFrom(argv);
        const { model, tokenizer } = await loadCheckpoint(String(argv.checkpoint));
        const predictions = await predictWithStudent(model, tokenizer, examples, { format: argv.format as 'fine-tune-cot', maxNewTokens: argv.maxNewTokens });
        const judge = argv.judge ? await LocalLLMClient.fromCheckpoint(argv.judge) : new LocalLLMClient(model, tokenizer);
        const judged = await judgeAnswers(judge, examples, new Map(predictions.map((p) => [p.exampleId, p.rationale])));
        const result = { questions: examples.length, studentAccuracy: accuracy(predictions), judgeAccuracy: judged.filter((a) => a.correct).length / Math.max(1, examples.length) };
        if (argv.judge) judge.lm.dispose();
        model.dispose();
        console.log(argv.json ? JSON.stringify(result) : `questions ${result.questions}  student accuracy ${(result.studentAccuracy * 100).toFixed(1)}%  judge accuracy ${(result.judgeAccuracy * 100).toFixed(1)}%`);
      }))
    .command('serve <checkpoint>', 'serve a checkpoint over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions)',
      (y) => y.positional('checkpoint', { type: 'string', demandOption: true })
        .option('host', { type: 'string', default: '127.0.0.1' })
        .option('port', { type: 'number', default: 8000 })
        .option('name', { type: 'string', describe: 'model name reported (default: the folder name)' }),
      (argv) => run(async () => {
        await initBackend();
        const server = await startServer({ checkpoint: argv.checkpoint, host: argv.host, port: argv.port, modelName: argv.name });
        console.log(`serving ${argv.checkpoint} at ${server.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
        console.log(`served ${server.stats.requests} requests`);
      }))
    .command('import-rationales <file>', 'convert recorded teacher rationales (e.g. the zero-shot-CoT JSONL files) to RationaleRecords',
      (y) => y.positional('file', { type: 'string', demandOption: true })
        .option('dataset', { type: 'string', describe: 'dataset the rationales belong to (default: the file\'s own `dataset` field)' })
        .option('format', { choices: ['zero-shot-cot', 'jsonl'], default: 'zero-shot-cot' })
        .option('data-dir', { type: 'string', default: 'data' })
        .option('out', { type: 'string', demandOption: true, describe: 'output JSONL of RationaleRecords' }),
      (argv) => run(async () => {
        const examples = argv.dataset ? loadDataset(argv.dataset, { dataDir: argv.dataDir }) : undefined;
        const records = importRationales(argv.file, { format: argv.format as 'zero-shot-cot', examples, dataDir: argv.dataDir });
        writeRationales(argv.out, records);
        const correct = records.filter((r) => r.correct).length;
        console.log(`${records.length} rationales -> ${argv.out} (teacher correct: ${correct}, ${((correct / Math.max(1, records.length)) * 100).toFixed(1)}%)`);
      }))
    .command('rewards', 'list the reward modules (built-in, and custom files given with --path)',
      (y) => y.option('path', { type: 'string', array: true, default: [] as string[], describe: 'custom reward files or folders' }),
      (argv) => run(async () => {
        loadRewardFiles(argv.path);
        for (const r of listRewards()) console.log(`${r.name.padEnd(20)} ${r.needsJudge ? '[judge] ' : ''}${r.description}`);
      }))
    .demandCommand(1, 'name a command (rrl --help lists them)')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, error, parser) => {
      if (error) throw error;
      if (usageFailed) return;
      // The failing command's own usage (which arguments it needs), then what was wrong.
      parser.showHelp('error');
      console.error(`\n${message}`);
      usageFailed = true;
      done(EXIT.badInput);
    });
}

/** Run the CLI on `args`; resolves to the process exit code. */
export function main(args: string[]): Promise<number> {
  return new Promise((resolvePromise) => {
    let settled = false;
    const done = (code: number) => {
      if (!settled) resolvePromise(code);
      settled = true;
    };
    Promise.resolve(buildParser(args, done).parseAsync())
      .then(() => done(EXIT.ok))
      .catch((error) => done(report(error)));
  });
}

import { existsSync, statSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { initBackend } from '../lib/backend';
import { ConfigError } from '../lib/experiment/config';
import { loadExperiment } from '../lib/experiment/load';
import { RunFolder, STAGES, type StageName } from '../lib/experiment/run-folder';
import { RunInterrupted, RunStateError, runExperiment } from '../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../lib/experiment/stages';
import { writeReport } from '../lib/experiment/stages';
import { Judge } from '../lib/eval/judge';
import { readJson } from '../lib/data/jsonl';
import { formatComparison, type PairedComparison } from '../lib/eval/stats';
import { writeFileAtomic } from '../lib/fs';
import { LocalLLMClient } from '../lib/llm/local-client';
import { ServerConfigError, startServer } from '../lib/llm/server';
import { InputError, readingInput } from '../lib/input-error';
import { logger, redactSecrets, registerSecret } from '../lib/log/logger';
import { loadCheckpoint } from '../lib/model/checkpoint';
import type { CausalLM } from '../lib/model/causal-lm';
import { exportHFCheckpoint } from '../lib/model/hf';
import type { T5Model } from '../lib/model/t5';
import { accuracy, predictWithStudent } from '../lib/eval/predict';
import { listRewards, loadRewardFiles } from '../lib/reward/registry';
import '../rewards';
import { dataCommand, importRationalesCommand } from './data-commands';
import { resolveEvalSettings } from './eval-settings';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, runState: 3, interrupted: 130 } as const;

/** Map an error to an exit code and print one clear line (a stack trace only with RRL_DEBUG=1). */
function report(error: unknown): number {
  const err = error as Error;
  // an error may quote a server's answer, which may quote the API key
  const print = (text: string | undefined) => console.error(redactSecrets(text ?? String(error)));
  if (process.env.RRL_DEBUG) print(err.stack);
  if (err instanceof ConfigError) {
    print(err.message);
    return EXIT.badInput;
  }
  if (err instanceof InputError || err instanceof ServerConfigError) {
    print(`error: ${err.message}`);
    return EXIT.badInput;
  }
  if (err instanceof RunInterrupted) {
    print(`interrupted: ${err.message}\nContinue with --resume.`);
    return EXIT.interrupted;
  }
  if (err instanceof RunStateError) {
    print(err.message);
    return EXIT.runState;
  }
  print(`error: ${err.message ?? String(error)}`);
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

/** An output file argument that must not be a folder (checked before any work). */
function outputFile(path: string | undefined): string | undefined {
  if (path && existsSync(path) && statSync(path).isDirectory()) throw new InputError(`--out: "${path}" is a folder; give a file path`);
  return path;
}

/** A TCP port argument: an integer 0-65535 (0 picks a free one). */
function portNumber(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError(`--port: ${JSON.stringify(value)} is not a port number (0-65535)`);
  return port;
}

const questionArgs = (y: Argv) => y
  .option('dataset', { type: 'string', describe: 'dataset name, e.g. last_letters (see the README for the list)' })
  .option('questions', { type: 'string', describe: 'JSONL file of examples (as written to <run>/data/test.jsonl)' })
  .option('data-dir', { type: 'string', describe: 'folder holding the datasets (default: RRL_DATA_DIR, else the package\'s data/)' })
  .option('split', { choices: ['train', 'test', 'all'], default: 'test', describe: 'which split of --dataset' })
  .option('seed', { type: 'number', default: 0, describe: 'split seed' })
  .option('limit', { type: 'number', describe: 'only the first N questions' })
  .option('format', { choices: ['fine-tune-cot', 'mt-cot', 'mt-re'], describe: 'the student\'s target format (default: the experiment\'s)' })
  .option('max-new-tokens', { type: 'number', describe: 'rationale length limit (default: the experiment\'s distill.maxNewTokens)' })
  .option('chat-template', { type: 'boolean', describe: 'render prompts with the student\'s chat template, an instruct student (default: the experiment\'s student.chatTemplate)' })
  .option('run', { type: 'string', describe: 'a run folder (checkpoints/<name>): its test split, student, judge, format and max new tokens are the defaults' });

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
  const parser = yargs(args)
    .scriptName('rrl')
    .usage('$0 <command> [options]\n\nDistil, refine with RL and evaluate chain-of-thought rationales of a small LM.');
  return importRationalesCommand(dataCommand(parser, run), run)
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
        // the data stage reads the dataset files the config names: its failures are bad input
        const implementations = {
          ...STAGE_IMPLEMENTATIONS,
          data: async (context: Parameters<typeof STAGE_IMPLEMENTATIONS.data>[0]) => {
            try {
              return await STAGE_IMPLEMENTATIONS.data(context);
            } catch (error) {
              if (error instanceof RunInterrupted || error instanceof RunStateError) throw error;
              throw new InputError((error as Error).message, { cause: error });
            }
          },
        };
        const manifest = await runExperiment(config, {
          stages: argv.stage as StageName[] | undefined, resume: argv.resume, restart: argv.restart,
          signal: interruptSignal(), implementations,
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
        writeReport(folder);
        console.log(folder.path('report', 'report.html'));
      }))
    .command('generate [checkpoint]', 'write a student checkpoint\'s rationales (and answers) for questions, as JSONL',
      (y) => questionArgs(y.positional('checkpoint', { type: 'string', describe: 'checkpoint folder (default with --run: its student)' }))
        .option('out', { type: 'string', describe: 'output file (default: standard output)' }),
      (argv) => run(async () => {
        const out = outputFile(argv.out);
        const settings = resolveEvalSettings(argv);
        await initBackend();
        const { model, tokenizer } = await readingInput(() => loadCheckpoint(settings.checkpoint));
        const predictions = await predictWithStudent(model, tokenizer, settings.examples, { format: settings.format, maxNewTokens: settings.maxNewTokens, chat: settings.chat });
        model.dispose();
        const lines = predictions.map((p) => JSON.stringify(p)).join('\n') + '\n';
        if (out) writeFileAtomic(out, lines);
        else process.stdout.write(lines);
        logger.info(`${predictions.length} rationales, student accuracy ${(accuracy(predictions) * 100).toFixed(1)}%`);
      }))
    .command('eval [checkpoint]', 'accuracy of a student checkpoint on questions: its own answers, and a judge\'s from its rationales',
      (y) => questionArgs(y.positional('checkpoint', { type: 'string', describe: 'student checkpoint folder (default with --run: its RL student, else its distilled one)' }))
        .option('judge', { type: 'string', describe: 'judge checkpoint folder (default: the run\'s judge with --run, else the student itself, frozen)' })
        .option('judge-template', { type: 'string', describe: 'judge prompt with {question} and {rationale} (default: the run\'s judge.template with --run, else the Fine-tune-CoT reader prompt)' })
        .option('judge-max-tokens', { type: 'number', describe: 'most tokens of the judge\'s answer (default: the run\'s judge.maxTokens with --run, else the schema\'s)' })
        .option('json', { type: 'boolean', default: false })
        .example('$0 eval --run checkpoints/replicate-last-letters', 'the run\'s student on its test split, with its settings'),
      (argv) => run(async () => {
        const settings = resolveEvalSettings(argv);
        const { examples } = settings;
        logger.info(`eval: ${settings.checkpoint} on ${examples.length} questions, format ${settings.format}, max new tokens ${settings.maxNewTokens} (${settings.from})`);
        await initBackend();
        const { model, tokenizer } = await readingInput(() => loadCheckpoint(settings.checkpoint));
        const predictions = await predictWithStudent(model, tokenizer, examples, { format: settings.format, maxNewTokens: settings.maxNewTokens, chat: settings.chat });
        const client = settings.judge ? await readingInput(() => LocalLLMClient.fromFolder(settings.judge!, { longPrompts: 'keep-end' }))
          : new LocalLLMClient<CausalLM | T5Model>(model, tokenizer, { longPrompts: 'keep-end' });
        const judge = new Judge(client, settings.judgeSettings);
        const judged = await judge.answerAll(examples, new Map(predictions.map((p) => [p.exampleId, p.rationale])));
        const result = { questions: examples.length, studentAccuracy: accuracy(predictions), judgeAccuracy: judged.filter((a) => a.correct).length / Math.max(1, examples.length) };
        if (settings.judge) client.lm.dispose();
        model.dispose();
        console.log(argv.json ? JSON.stringify(result) : `questions ${result.questions}  student accuracy ${(result.studentAccuracy * 100).toFixed(1)}%  judge accuracy ${(result.judgeAccuracy * 100).toFixed(1)}%`);
      }))
    .command('serve <checkpoint>', 'serve a checkpoint over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions, /health)',
      (y) => y.positional('checkpoint', { type: 'string', demandOption: true })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'interface to bind; beyond loopback needs --api-key' })
        .option('port', { type: 'string', default: '8000', describe: 'TCP port (0: any free one)' })
        .option('name', { type: 'string', describe: 'model name reported (default: the folder name)' })
        .option('api-key', { type: 'string', describe: 'key clients must send (Authorization: Bearer <key>) on every route but /health; default: env RRL_API_KEY' })
        .option('allow-unauthenticated', { type: 'boolean', default: false, describe: 'serve beyond loopback without an API key' }),
      (argv) => run(async () => {
        const port = portNumber(argv.port);
        const apiKey = argv.apiKey ?? (process.env.RRL_API_KEY || undefined);
        registerSecret(apiKey);
        await initBackend();
        const client = await readingInput(() => LocalLLMClient.fromFolder(String(argv.checkpoint)));
        const server = await startServer({ client, host: argv.host, port, modelName: argv.name, apiKey, allowUnauthenticated: argv.allowUnauthenticated });
        console.log(`serving ${argv.checkpoint} at ${server.url}${apiKey ? ' (API key required)' : ''} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
        console.log(`served ${server.stats.requests} requests`);
      }))
    .command('export <checkpoint> <out>', 'write a checkpoint (either format) as a Hugging Face folder transformers and tokenizers load as is',
      (y) => y.positional('checkpoint', { type: 'string', demandOption: true }).positional('out', { type: 'string', demandOption: true }),
      (argv) => run(async () => {
        await initBackend();
        const { model, tokenizer } = await loadCheckpoint(String(argv.checkpoint));
        await exportHFCheckpoint(String(argv.out), model, tokenizer);
        model.dispose();
        console.log(argv.out);
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

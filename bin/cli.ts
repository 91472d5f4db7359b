import yargs, { type Argv } from 'yargs';
import { ConfigError } from '../lib/experiment/config';
import { loadExperiment } from '../lib/experiment/load';
import { RunFolder, STAGES, type StageName } from '../lib/experiment/run-folder';
import { RunInterrupted, RunStateError, runExperiment } from '../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../lib/experiment/stages';
import { logger } from '../lib/log/logger';

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

const experimentArg = (y: Argv) => y
  .positional('experiment', { type: 'string', demandOption: true, describe: 'experiment file (.ts), e.g. experiments/default.ts' })
  .option('set', { type: 'string', array: true, default: [] as string[], describe: 'override a config field: --set rl.iterations=10' });

function buildParser(args: string[], done: (code: number) => void): Argv {
  const run = async (fn: () => Promise<void>) => {
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
        const folder = new RunFolder(loadExperiment(argv.experiment, argv.set));
        if (!folder.exists()) throw new RunStateError(`${folder.root}: no run yet`);
        const manifest = folder.manifest();
        if (argv.json) {
          console.log(JSON.stringify(manifest, null, 2));
          return;
        }
        console.log(`${manifest.experiment}  (${folder.root})`);
        for (const stage of STAGES) {
          const record = manifest.stages[stage];
          const numbers = Object.entries(record?.summary ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
          console.log(`  ${stage.padEnd(8)} ${(record?.status ?? 'pending').padEnd(8)} ${numbers}${record?.error ? `  error: ${record.error}` : ''}`);
        }
      }))
    .demandCommand(1, 'name a command (rrl --help lists them)')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, error) => {
      if (error) throw error;
      console.error(`${message}\nSee rrl --help.`);
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

/**
 * `npm run bench:soak -- --minutes 30`: a memory soak of the RL loop. Runs the data, teacher and distill stages of
 * an experiment (default: experiments/default.ts) once, then RL iterations of its rl stage until the time is up,
 * sampling the process RSS, the JS heap and tf.memory() at the first iteration boundary after each sample period
 * (default 60 s). Prints a table, then (last line) one JSON object with the samples and the growth: tensors from the
 * first sample to the last, RSS and heap as the rise of their floor (lowest sample) from the first half to the second.
 * Other options: --experiment <file>, --sample-seconds <n>, --set key.path=value (repeatable),
 * --output <folder> (default: a temporary folder, removed afterwards).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../lib/backend';
import { loadExperiment } from '../lib/experiment/load';
import { RunFolder } from '../lib/experiment/run-folder';
import { RunInterrupted, runExperiment } from '../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../lib/experiment/stages';
import { rlStage } from '../lib/experiment/stages/rl';
import { setConsoleLevel } from '../lib/log/logger';
import { MetricsSink, type MetricsRecord } from '../lib/log/metrics';
import { gitCommit } from './commit';

interface Sample {
  minute: number;
  iterations: number;
  rssMB: number;
  heapMB: number;
  tensors: number;
  tensorMB: number;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20 * 10) / 10;

/** A metrics sink that also calls `onIteration` after each RL iteration's line (a point where no step is running). */
class IterationSink extends MetricsSink {
  constructor(path: string, private readonly onIteration: (iteration: number) => void) {
    super(path);
  }

  override write(record: MetricsRecord): void {
    super.write(record);
    if (record.stage === 'rl') this.onIteration(record.step);
  }
}

async function main(): Promise<void> {
  process.stderr.write(`bench:soak on commit ${gitCommit()}\n`);
  const argv = yargs(hideBin(process.argv))
    .option('minutes', { type: 'number', default: 30 })
    .option('sample-seconds', { type: 'number', default: 60 })
    .option('experiment', { type: 'string', default: 'experiments/default.ts' })
    .option('set', { type: 'string', array: true, default: [] as string[] })
    .option('output', { type: 'string' })
    .strict().parseSync();
  setConsoleLevel('warn');
  const output = argv.output ?? mkdtempSync(join(tmpdir(), 'rrl-soak-'));
  const backend = await initBackend();
  const base = loadExperiment(argv.experiment, [...argv.set, `output=${output}`]);
  const prepared = Date.now();
  await runExperiment(base, { stages: ['data', 'teacher', 'distill'], implementations: STAGE_IMPLEMENTATIONS });
  const distillSeconds = Math.round((Date.now() - prepared) / 1000);

  // Enough iterations never to finish, no checkpoints until the stop: the loop itself is what is measured.
  const config = { ...base, rl: { ...base.rl, iterations: 1_000_000, checkpointEvery: 1_000_000 } };
  const run = new RunFolder(config);
  const stop = new AbortController();
  const started = Date.now();
  const samples: Sample[] = [];
  let nextSample = started;
  const sample = (iterations: number) => {
    const memory = tf.memory();
    samples.push({
      minute: Math.round((Date.now() - started) / 600) / 100, iterations, rssMB: mb(process.memoryUsage.rss()),
      heapMB: mb(process.memoryUsage().heapUsed), tensors: memory.numTensors, tensorMB: mb(memory.numBytes),
    });
    const s = samples[samples.length - 1];
    console.log(`${s.minute.toFixed(2).padStart(7)}  ${String(iterations).padStart(10)}  ${s.rssMB.toFixed(1).padStart(8)}  ${s.heapMB.toFixed(1).padStart(8)}  ${String(s.tensors).padStart(8)}  ${s.tensorMB.toFixed(1).padStart(9)}`);
  };
  const metrics = new IterationSink(run.path('metrics.jsonl'), (iteration) => {
    if (Date.now() < nextSample) return;
    sample(iteration);
    nextSample += argv['sample-seconds'] * 1000;
    if (Date.now() - started >= argv.minutes * 60_000) stop.abort();
  });
  console.log(`backend ${backend.name}; distillation ${distillSeconds} s; RL soak for ${argv.minutes} min`);
  console.log(' minute  iteration    RSS MB   heap MB  tensors  tensor MB');
  nextSample = started + argv['sample-seconds'] * 1000; // the first sample after one iteration period of warm-up
  try {
    await rlStage({
      config, run, dir: run.stageDir('rl'), metrics, resume: false, signal: stop.signal,
      outputsOf: (stage) => Object.fromEntries(Object.entries(run.manifest().stages[stage]?.outputs ?? {}).map(([k, f]) => [k, run.path(f)])),
    });
  } catch (error) {
    if (!(error instanceof RunInterrupted)) throw error;
  }
  if (!argv.output) rmSync(output, { recursive: true, force: true });
  const first = samples[0];
  const last = samples[samples.length - 1];
  // RSS and heap swing by a few hundred MB with garbage collection; a leak shows as a rising floor, so the lowest
  // sample of the second half is compared with the lowest of the first.
  const half = Math.ceil(samples.length / 2);
  const floorGrowth = (field: 'rssMB' | 'heapMB') => Math.round(
    (Math.min(...samples.slice(half).map((s) => s[field])) - Math.min(...samples.slice(0, half).map((s) => s[field]))) * 10) / 10;
  const growth = samples.length >= 2 ? {
    tensors: last.tensors - first.tensors, tensorMB: Math.round((last.tensorMB - first.tensorMB) * 10) / 10,
    rssFloorMB: floorGrowth('rssMB'), heapFloorMB: floorGrowth('heapMB'),
    rssFirstToLastMB: Math.round((last.rssMB - first.rssMB) * 10) / 10, maxRssMB: Math.max(...samples.map((s) => s.rssMB)),
  } : undefined;
  console.log(`growth (tensors: first to last sample; RSS and heap: lowest sample of the second half minus lowest of the first): ${JSON.stringify(growth)}`);
  console.log(JSON.stringify({ bench: 'soak', backend: backend.name, minutes: argv.minutes, distillSeconds, iterations: last?.iterations ?? 0, samples, growth }));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

// The work a SIGKILL test interrupts, run as a child process: it prints "ready" once set up, then writes, and
// prints "finished <json>" if it is not killed first. Each mode continues from what the files already hold.
//   teacher <outFile> <count>   generateRationales over <count> sums (records + the .done list)
//   manifest <runRoot> <count> [stallAt]
//                               RunFolder.updateStage, one manifest write per step, step kept in the summary; each
//                               step waits for a line on stdin and prints "step <n>" after its write, so the killer
//                               (not the machine's speed) decides at which step the SIGKILL lands; at step <stallAt>
//                               the write stops halfway (see stallNextWriteHalfway)
//   checkpoint <dir> <count>    saveCheckpoint of a tiny model, the step kept in trainer_state.json; steps on
//                               go-ahead lines like manifest
import { basename, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { RunFolder } from '../../../lib/experiment/run-folder';
import { validateExperiment } from '../../../lib/experiment/config';
import type { CompletionRequest, LLMClient } from '../../../lib/llm/types';
import { setConsoleLevel } from '../../../lib/log/logger';
import { generateRationales } from '../../../lib/teacher/run';
import { zeroShotCoT } from '../../../lib/teacher/strategies';
import { ArithmeticTeacher, sumExamples } from '../../llm/support/arithmetic-teacher';

/** The arithmetic teacher, 2 ms slower per call, so kills land in the middle of the work. */
function slowTeacher(): LLMClient {
  const teacher = new ArithmeticTeacher();
  const wait = () => new Promise((r) => setTimeout(r, 2));
  return {
    model: teacher.model,
    complete: async (r: CompletionRequest) => (await wait(), teacher.complete(r)),
    chat: async (r) => (await wait(), teacher.chat(r)),
  };
}

/** The minimal experiment config whose run folder is `root`. */
export function manifestConfig(root: string) {
  return validateExperiment({
    name: basename(root), output: dirname(root), data: { source: { kind: 'synthetic', task: 'last_letters', size: 20 } },
    teacher: { kind: 'offline' }, student: { arch: 'gpt2', dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 16 }, rewards: { weights: { coherence: 1 } },
  }, 'crash test');
}

async function teacher(outFile: string, count: number, ready: () => void) {
  const result = await generateRationales({ client: slowTeacher(), strategy: zeroShotCoT(), examples: sumExamples(count), outFile, concurrency: 4, onProgress: ready });
  return { written: result.written, skipped: result.skipped };
}

/** Resolves once per line read from stdin (the killer's go-ahead for one step). */
function stdinLines(): () => Promise<void> {
  const waiting: (() => void)[] = [];
  let available = 0;
  createInterface({ input: process.stdin }).on('line', () => {
    const next = waiting.shift();
    if (next) next();
    else available++;
  });
  return () => new Promise<void>((resolve) => {
    if (available > 0) {
      available--;
      resolve();
    } else waiting.push(resolve);
  });
}

/**
 * Makes the process's next `fs.writeSync` write half its bytes, print "mid-write" and then wait for ever (for the
 * killer's SIGKILL): a kill inside a file write on any machine. A writer that wrote the target file in place would
 * leave it cut in half.
 */
function stallNextWriteHalfway(): void {
  // the module object itself (not an import namespace copy), whose property every caller reads at call time
  const writable = require('node:fs') as { writeSync: (fd: number, data: Uint8Array) => number };
  const write = writable.writeSync;
  writable.writeSync = (fd, data) => {
    write(fd, data.subarray(0, data.length >> 1));
    process.stdout.write('mid-write\n'); // synchronous on a pipe
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    return 0;
  };
}

async function manifest(root: string, count: number, ready: () => void, stallAt?: number) {
  const run = new RunFolder(manifestConfig(root));
  const start = Number(run.manifest().stages.teacher?.summary.step ?? 0);
  const goAhead = stdinLines();
  ready();
  for (let step = start + 1; step <= count; step++) {
    await goAhead();
    if (step === stallAt) stallNextWriteHalfway();
    run.updateStage('teacher', { summary: { step, note: 'x'.repeat(2000) } });
    process.stdout.write(`step ${step}\n`);
  }
  process.stdin.destroy();
  return { start };
}

async function checkpoint(dir: string, count: number, ready: () => void) {
  // Loaded here so that the other modes start without tfjs.
  const tf = await import('@tensorflow/tfjs');
  const { CausalLM, loadCheckpoint, saveCheckpoint } = await import('../../../lib/model');
  const { CharTokenizer } = await import('../../../lib/tokenizer');
  const tokenizer = CharTokenizer.fromTexts(['abcdefgh ']);
  let model: import('../../../lib/model').CausalLM;
  let start = 0;
  if (existsSync(dir)) {
    const loaded = await loadCheckpoint(dir);
    model = loaded.model;
    start = Number(loaded.extra?.step);
  } else {
    model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 64, nLayers: 2, nHeads: 2, maxSeqLen: 64 }, { seed: 1 });
  }
  const goAhead = stdinLines();
  ready();
  for (let step = start + 1; step <= count; step++) {
    await goAhead();
    // The weights follow the step, so a reader can tell a checkpoint's weights belong to its trainer state.
    tf.tidy(() => Object.values(model.weights).forEach((w) => w.assign(tf.fill(w.shape, step))));
    await saveCheckpoint(dir, { model, tokenizer, extra: { step } });
    process.stdout.write(`step ${step}\n`);
  }
  process.stdin.destroy();
  model.dispose();
  return { start };
}

if (require.main === module) {
  setConsoleLevel('error');
  const [mode, path, count, stallAt] = process.argv.slice(2);
  const work = { teacher, manifest, checkpoint }[mode as 'manifest'];
  let announced = false;
  const ready = () => {
    if (!announced) process.stdout.write('ready\n');
    announced = true;
  };
  void work(path, Number(count), ready, stallAt === undefined ? undefined : Number(stallAt)).then((result) => process.stdout.write(`finished ${JSON.stringify(result)}\n`));
}

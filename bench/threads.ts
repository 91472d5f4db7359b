/**
 * `npm run bench:threads`: the wasm backend with XNNPACK's thread pool (`RRL_WASM_THREADS=N`) against one thread, in
 * one command. The pool is chosen when a process starts, so child processes of this script alternate, one thread
 * then N, `--rounds` times (never two at once); each trains the bench:model S config (GPT-2 layout, batch 16 x 128,
 * AdamW) one warm-up and `--steps` timed steps, then samples with the KV cache (batch 8, 64 new tokens) one warm-up
 * and one timed generation, and prints its rates. Decoding runs on one thread in both (see `withWasmThreads`), so
 * the sampling rates show what the pool costs decoding when it is idle. Also checks that both give the same loss
 * bits. `--threads N` (default: one per available CPU, at least 2), `--rounds R` (default 3), `--steps S` (default 2).
 * Prints a table, the commit and the load average, then (last line) one JSON object.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { gitCommit } from './commit';
import { initBackend } from '../lib/backend';
import { CausalLM, generate } from '../lib/model';
import { CharTokenizer } from '../lib/tokenizer';
import { Trainer } from '../lib/train';
import { availableWasmThreads } from '../lib/wasm-threads';

interface ChildResult { threads: number; trainTokPerS: number; sampleTokPerS: number; loss: number }

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench:threads: --${name} takes a positive whole number, got '${process.argv[i + 1]}'`);
    process.exit(2);
  }
  return value;
}

/** One child's work: S training steps and one sampled generation, timed on the wall clock. */
async function child(steps: number): Promise<ChildResult> {
  await initBackend('wasm');
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 128, tieEmbeddings: true }, { seed: 1 });
  let s = 1;
  const batch = () => {
    const ids = Array.from({ length: 16 }, () => Array.from({ length: 128 }, () => (s = (s * 1103515245 + 12345) % 2147483648) % 512));
    return { ids, targetMask: ids.map((row) => row.map(() => 1)) };
  };
  const trainer = new Trainer(model, { schedule: { peakLr: 1e-3, warmupSteps: 1, totalSteps: steps + 1 }, microBatchSize: 16 });
  await trainer.step(batch());
  let start = performance.now();
  let loss = 0;
  for (let i = 0; i < steps; i++) loss = (await trainer.step(batch())).loss;
  const trainTokPerS = (steps * 16 * 128) / ((performance.now() - start) / 1000);
  trainer.dispose();
  const tokenizer = new CharTokenizer(Array.from({ length: 508 }, (_, i) => String.fromCodePoint(0x20 + i)));
  const prompts = Array.from({ length: 8 }, (_, i) => `Question ${i}: what is ${i} + ${i}?`);
  await generate(model, tokenizer, prompts, { maxNewTokens: 64, seed: 1 });
  start = performance.now();
  const generated = (await generate(model, tokenizer, prompts, { maxNewTokens: 64, seed: 2 })).reduce((n, g) => n + g.tokenIds.length, 0);
  const sampleTokPerS = generated / ((performance.now() - start) / 1000);
  model.dispose();
  return { threads: Number(process.env.RRL_WASM_THREADS ?? 1), trainTokPerS: Math.round(trainTokPerS), sampleTokPerS: Math.round(sampleTokPerS), loss };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

async function main(): Promise<void> {
  const steps = flag('steps', 2);
  if (process.argv.includes('--child')) {
    console.log(JSON.stringify(await child(steps)));
    return;
  }
  const threads = flag('threads', Math.max(2, availableWasmThreads()));
  const rounds = flag('rounds', 3);
  const commit = gitCommit();
  const loadBefore = os.loadavg()[0];
  const runs: ChildResult[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const count of [1, threads]) {
      const out = execFileSync(process.execPath, [...process.execArgv, __filename, '--child', '--steps', String(steps)], {
        env: { ...process.env, RRL_WASM_THREADS: String(count) }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
      });
      runs.push(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
      process.stderr.write(`bench:threads round ${round + 1}, ${count} thread(s): ${fmt(runs[runs.length - 1].trainTokPerS)} train, ${fmt(runs[runs.length - 1].sampleTokPerS)} sample tok/s\n`);
    }
  }
  const single = runs.filter((r) => r.threads === 1);
  const pooled = runs.filter((r) => r.threads === threads);
  const ratio = (key: 'trainTokPerS' | 'sampleTokPerS') => Number(median(pooled.map((r, i) => r[key] / single[i][key])).toFixed(2));
  const sameLoss = pooled.every((r, i) => Object.is(r.loss, single[i].loss));
  console.log(`commit: ${commit}`);
  console.log(`load average (1 min) before / after: ${loadBefore.toFixed(1)} / ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs`);
  console.log(`S (batch 16 x 128) training and KV-cache sampling (batch 8, 64 new), tok/s per wall-clock second, round by round`);
  const rows = [['threads', 'train tok/s', 'sample tok/s'],
    ['1', single.map((r) => fmt(r.trainTokPerS)).join(', '), single.map((r) => fmt(r.sampleTokPerS)).join(', ')],
    [String(threads), pooled.map((r) => fmt(r.trainTokPerS)).join(', '), pooled.map((r) => fmt(r.sampleTokPerS)).join(', ')]];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((cell, i) => cell.padStart(w[i])).join('  '));
  console.log(`median ratio ${threads} threads / 1: train ${ratio('trainTokPerS')}x, sample ${ratio('sampleTokPerS')}x; same loss bits: ${sameLoss}`);
  console.log(JSON.stringify({ commit, threads, rounds, loadAverage: [Number(loadBefore.toFixed(1)), Number(os.loadavg()[0].toFixed(1))], trainRatio: ratio('trainTokPerS'), sampleRatio: ratio('sampleTokPerS'), sameLoss, runs }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

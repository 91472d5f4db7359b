/**
 * `npm run bench:model`: training and sampling speed of the student LM on this machine's tfjs backend.
 *
 * For two GPT-2-layout configs, S (vocab 512, d 128, 4 layers, 4 heads, seq 128, batch 16) and M (vocab 8192,
 * d 384, 6 layers, 6 heads, seq 256, batch 8 as 2 micro-batches of 4), it measures: train tokens/s, achieved
 * GFLOP/s, sampling tokens/s (batch 8, 64 new tokens; see {@link benchSample}) with and without the KV cache, and
 * peak RSS. Rates are given per wall-clock second and per CPU-second of this process (see {@link timed}). On wasm
 * it also trains S with the shipped versions of the kernels the project replaces (`setFastWasmKernels(false)`), as
 * the reference for their speed-up.
 * Prints a table, then (last line) one JSON object with the figures.
 *
 * `--profile` instead prints where one S training step's, one S decoding step's and one GPT-2-124M-shape decoding
 * step's time goes, kernel by kernel (see {@link profileSteps}).
 *
 * `--peer` also runs the same model on PyTorch (bench/torch/peer_model.py, see {@link TorchPeer}) in this command:
 * for S training, S sampling and GPT-2-124M-shape sampling it alternates PEER_ROUNDS times between this process
 * and the peer (never both at once) and reports the median of the per-round ratios as `vsTorch`. `--peer-threads
 * T,B` sets the peer's torch and OpenBLAS threads (default 1,1: the fastest on the shared 2-core machine).
 *
 * Training FLOPs per token: 6 N + 12 L d T (N parameters, L layers, width d, context T): the usual 6N for the
 * forward and backward matmuls (the tied output projection included in N) plus the attention scores and the
 * weighted sum, 2 * 2 L d T forward, times 3 with the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { gitCommit } from './commit';
import { initBackend } from '../lib/backend';
import { setFastWasmKernels, fastWasmKernelsOn } from '../lib/kernels';
import { CausalLM, generate, type ModelConfig } from '../lib/model';
import { CharTokenizer } from '../lib/tokenizer';
import { Trainer } from '../lib/train';
import { wasmThreads } from '../lib/wasm-threads';
import { defaultPython, TorchPeer, type PeerRates } from './torch/peer';

interface BenchConfig {
  name: 'S' | 'M';
  model: ModelConfig;
  batch: number;
  microBatch: number;
  trainSteps: number;
}

const CONFIGS: BenchConfig[] = [
  {
    name: 'S',
    model: { arch: 'gpt2', vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 128, tieEmbeddings: true },
    batch: 16, microBatch: 16, trainSteps: 6,
  },
  {
    name: 'M',
    model: { arch: 'gpt2', vocabSize: 8192, dModel: 384, nLayers: 6, nHeads: 6, maxSeqLen: 256, tieEmbeddings: true },
    batch: 8, microBatch: 4, trainSteps: 2,
  },
];

const SAMPLE_BATCH = 8;
const SAMPLE_NEW_TOKENS = 64;

/** Deterministic token ids in [0, vocab) (a linear congruential sequence; the values do not matter for speed). */
function tokenBatch(rows: number, length: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0;
  return Array.from({ length: rows }, () => Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  }));
}

/**
 * Wall-clock rates, and rates per CPU-second of this process: the wasm backend computes on one thread, so
 * tokens per CPU-second is what an otherwise idle core would give even while other processes share the machine.
 */
interface Rates { perS: number; perCpuS: number }

/** Runs `work` and returns how many of its units it did per wall-clock second and per CPU-second. */
async function timed(work: () => Promise<number>): Promise<Rates> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const units = await work();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { perS: units / seconds, perCpuS: units / ((cpu.user + cpu.system) / 1e6) };
}

interface TrainResult { tokens: Rates; gflops: number; gflopsPerCpuS: number }

/** A Trainer as the bench uses it (AdamW, clipping, accumulation), warmed up by one update: kernel setup, slots. */
async function warmTrainer(model: CausalLM, cfg: BenchConfig, steps: number): Promise<Trainer> {
  const trainer = new Trainer(model, {
    schedule: { peakLr: 1e-3, warmupSteps: 2, totalSteps: steps + 1 },
    microBatchSize: cfg.microBatch,
  });
  await trainer.step(trainBatch(model, cfg, 0));
  return trainer;
}

function trainBatch(model: CausalLM, cfg: BenchConfig, seed: number) {
  const { maxSeqLen: T, vocabSize } = model.config;
  return {
    ids: tokenBatch(cfg.batch, T, vocabSize, seed),
    targetMask: Array.from({ length: cfg.batch }, () => new Array<number>(T).fill(1)),
  };
}

/** Times `steps` updates of a warm trainer. */
async function timeTrain(trainer: Trainer, model: CausalLM, cfg: BenchConfig, steps: number): Promise<TrainResult> {
  const { maxSeqLen: T, dModel, nLayers } = model.config;
  const tokens = await timed(async () => {
    for (let i = 1; i <= steps; i++) await trainer.step(trainBatch(model, cfg, trainer.stepsDone + i));
    return steps * cfg.batch * T;
  });
  const gflopPerToken = (6 * model.numParams() + 12 * nLayers * dModel * T) / 1e9;
  return { tokens, gflops: tokens.perS * gflopPerToken, gflopsPerCpuS: tokens.perCpuS * gflopPerToken };
}

/** Trains `steps` updates (after one warm-up update) with the project's Trainer: AdamW, clipping, accumulation. */
async function benchTrain(model: CausalLM, cfg: BenchConfig, steps: number): Promise<TrainResult> {
  const trainer = await warmTrainer(model, cfg, steps);
  const result = await timeTrain(trainer, model, cfg, steps);
  trainer.dispose();
  return result;
}

/** A character tokenizer with exactly the model's vocabulary size: 4 specials, then code points from ' '. */
function tokenizerFor(vocabSize: number): CharTokenizer {
  return new CharTokenizer(Array.from({ length: vocabSize - 4 }, (_, i) => String.fromCodePoint(0x20 + i)));
}

/**
 * Sampling rate over `runs` generations of SAMPLE_NEW_TOKENS after one warm-up generation of `warmupTokens`.
 * With the KV cache: a full warm-up generation, then 3 timed ones: a decoding step is a couple of hundred small
 * kernels and JS loops whose JIT compilation is not done after one generation (the first after a 2-token warm-up
 * ran at 55-65% of the fifth's rate), and sampling for RL runs many generations. Without the cache (about ten
 * times slower): a 2-token warm-up and 1 timed generation.
 */
async function benchSample(model: CausalLM, useCache: boolean, options: { warm?: boolean; runs?: number } = {}): Promise<Rates> {
  const tokenizer = tokenizerFor(model.config.vocabSize);
  const prompts = Array.from({ length: SAMPLE_BATCH }, (_, i) => `Question ${i}: what is ${i} + ${i}?`);
  const [warmupTokens, runs] = useCache ? [SAMPLE_NEW_TOKENS, options.runs ?? 3] : [2, options.runs ?? 1];
  if (!options.warm) await generate(model, tokenizer, prompts, { maxNewTokens: warmupTokens, seed: 1, useCache });
  return timed(async () => {
    let tokens = 0;
    for (let run = 0; run < runs; run++) {
      const out = await generate(model, tokenizer, prompts, { maxNewTokens: SAMPLE_NEW_TOKENS, seed: 1 + run, useCache });
      tokens += out.reduce((n, g) => n + g.tokenIds.length, 0); // rows that sample EOS stop early: count real tokens
    }
    return tokens;
  });
}

/** Progress goes to stderr, so stdout holds only the table and the JSON line. */
const progress = (message: string) => process.stderr.write(`bench:model ${message}\n`);

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;
const round2 = (x: number) => Number(x.toFixed(2));
const pair = (r: Rates) => `${fmt(r.perS)} / ${fmt(r.perCpuS)}`;
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** How many times the --peer comparison alternates between this process and the PyTorch peer per figure. */
const PEER_ROUNDS = 3;

/** GPT-2 small's shape, for the sampling comparison (its training does not fit the wasm heap). */
const GPT2_124M: ModelConfig = { arch: 'gpt2', vocabSize: 50257, dModel: 768, nLayers: 12, nHeads: 12, maxSeqLen: 1024, tieEmbeddings: true };

/** One figure measured alternately here and on the peer: the rates of each round and the ratios' medians. */
interface Comparison { config: string; task: 'train' | 'sample'; ours: Rates[]; torch: PeerRates[]; ratio: number; ratioCpu: number }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function compare(config: string, task: 'train' | 'sample', ours: () => Promise<Rates>, torch: () => Promise<PeerRates>): Promise<Comparison> {
  const c: Comparison = { config, task, ours: [], torch: [], ratio: 0, ratioCpu: 0 };
  for (let round = 0; round < PEER_ROUNDS; round++) {
    c.ours.push(await ours());
    c.torch.push(await torch());
    progress(`vs torch ${config} ${task} round ${round + 1}: ${fmt(c.ours[round].perS)} against ${fmt(c.torch[round].tokPerS)} tok/s`);
  }
  c.ratio = round2(median(c.ours.map((r, i) => r.perS / c.torch[i].tokPerS)));
  c.ratioCpu = round2(median(c.ours.map((r, i) => r.perCpuS / c.torch[i].tokPerCpuS)));
  return c;
}

/** `--name value` or `--name=value` from argv. */
function flag(name: string): string | undefined {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const arg = process.argv[i];
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : process.argv[i + 1];
}

const PROFILE_STEPS = 3;

/** BatchMatMul split by use: attention's batched products (both operands batched) and the 2-D ones. */
function kernelLabel(name: string, inputShapes: number[][]): string {
  if (name !== 'BatchMatMul') return name;
  const batched = inputShapes.every((shape) => shape.slice(0, -2).reduce((p, d) => p * d, 1) > 1);
  return batched ? 'BatchMatMul (attention, per head)' : 'BatchMatMul (2-D: gradients, output head)';
}

interface KernelProfile { unitMs: number; outsideKernelsMs: number; kernels: Record<string, { ms: number; calls: number }> }

/**
 * Times every registered kernel that `work` runs with `tf.profile` (each kernel's own wall time; scopes such as an
 * op's custom gradient are not counted again), per unit of work (`units` of them); "outside kernels" is the rest of
 * the wall time (tape bookkeeping, JS glue, reading results back, host-side sampling).
 */
async function profileKernels(backendName: string, units: number, work: () => Promise<void>): Promise<KernelProfile> {
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false); // else every kernel's output is read back while profiling
  const start = performance.now();
  const info = await tf.profile(work);
  const unitMs = (performance.now() - start) / units;
  const kernels: Record<string, { ms: number; calls: number }> = {};
  for (const k of info.kernels) {
    if (tf.getKernel(k.name, backendName) === undefined) continue; // a scope, not a kernel
    const entry = (kernels[kernelLabel(k.name, k.inputShapes)] ??= { ms: 0, calls: 0 });
    entry.ms += (await k.kernelTimeMs as number) / units;
    entry.calls += 1 / units;
  }
  const kernelMs = Object.values(kernels).reduce((sum, e) => sum + e.ms, 0);
  const sorted = Object.entries(kernels).sort((x, y) => y[1].ms - x[1].ms)
    .map(([name, e]) => [name, { ms: round2(e.ms), calls: Math.round(e.calls) }] as const);
  return { unitMs: round2(unitMs), outsideKernelsMs: round2(unitMs - kernelMs), kernels: Object.fromEntries(sorted) };
}

function printProfile(title: string, unit: string, p: KernelProfile): void {
  const share = (ms: number) => `${fmt((100 * ms) / p.unitMs, 1)}%`;
  const rows = [...Object.entries(p.kernels).map(([name, e]) => [name, fmt(e.ms, 2), fmt(e.calls), share(e.ms)]),
    ['outside kernels', fmt(p.outsideKernelsMs, 2), '-', share(p.outsideKernelsMs)]];
  const header = ['kernel', `ms / ${unit}`, `calls / ${unit}`, 'share'];
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`\n${title}: ${fmt(p.unitMs, 1)} ms / ${unit}`);
  for (const r of [header, ...rows]) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(w[i]) : cell.padStart(w[i]))).join('  '));
}

/**
 * `--profile`: where the time of one S training step (PROFILE_STEPS warm Trainer steps: AdamW, clipping), of one S
 * decoding step and of one GPT-2-124M-shape decoding step (warm KV-cache generations of batch 8, 64 new tokens)
 * goes, kernel by kernel.
 */
async function profileSteps(commit: string, backendName: string): Promise<void> {
  const cfg = CONFIGS.find((c) => c.name === 'S')!;
  const model = CausalLM.create(cfg.model, { seed: 1 });
  const trainer = await warmTrainer(model, cfg, PROFILE_STEPS + 1);
  await trainer.step(trainBatch(model, cfg, 1)); // a second warm step: JIT
  const train = await profileKernels(backendName, PROFILE_STEPS, async () => {
    for (let i = 0; i < PROFILE_STEPS; i++) await trainer.step(trainBatch(model, cfg, 2 + i));
  });
  trainer.dispose();
  await benchSample(model, true, { runs: 1 }); // warm-up generations
  const prompts = Array.from({ length: SAMPLE_BATCH }, (_, i) => `Question ${i}: what is ${i} + ${i}?`);
  const decodeGeneration = (m: CausalLM) => profileKernels(backendName, SAMPLE_NEW_TOKENS, async () => {
    await generate(m, tokenizerFor(m.config.vocabSize), prompts, { maxNewTokens: SAMPLE_NEW_TOKENS, seed: 1, useCache: true });
  });
  const decode = await decodeGeneration(model);
  model.dispose();
  const gpt2 = CausalLM.create(GPT2_124M, { seed: 1 });
  await benchSample(gpt2, true, { runs: 0 }); // the warm-up generation
  const decodeGpt2 = await decodeGeneration(gpt2);
  gpt2.dispose();
  console.log(`commit: ${commit}`);
  console.log(`backend: ${backendName} (${wasmThreads()} thread(s)); kernel wall times from tf.profile (the machine's other load inflates them all alike)`);
  printProfile(`S training step (batch 16 x 128, AdamW, clipping; mean of ${PROFILE_STEPS})`, 'step', train);
  printProfile(`S decoding with the KV cache (batch 8; ${SAMPLE_NEW_TOKENS} new tokens, prompt included)`, 'token', decode);
  printProfile(`GPT-2-124M-shape decoding with the KV cache (batch 8; ${SAMPLE_NEW_TOKENS} new tokens, prompt included)`, 'token', decodeGpt2);
  console.log(JSON.stringify({ commit, backend: backendName, profile: { train, decode, decodeGpt2 } }));
}

async function main(): Promise<void> {
  if (process.argv.includes('--profile')) {
    const backend = await initBackend();
    await profileSteps(gitCommit(), backend.name);
    return;
  }
  const withPeer = process.argv.includes('--peer');
  const [torchThreads, blasThreads] = (flag('peer-threads') ?? '1,1').split(',').map(Number);
  if (!(torchThreads >= 1 && blasThreads >= 1)) {
    console.error('bench:model: --peer-threads takes two positive integers "T,B" (torch threads, OpenBLAS threads)');
    process.exit(2);
  }
  const wanted = (flag('configs') ?? CONFIGS.map((c) => c.name).join(',')).split(',');
  const unknown = wanted.find((name) => !CONFIGS.some((c) => c.name === name));
  if (unknown !== undefined) {
    console.error(`bench:model: --configs: unknown config "${unknown}" (known: ${CONFIGS.map((c) => c.name).join(', ')})`);
    process.exit(2);
  }
  const commit = gitCommit();
  const backend = await initBackend();
  let peer: TorchPeer | undefined;
  let peerSkipped: string | undefined;
  if (withPeer) {
    const started = await TorchPeer.start(flag('python') ?? defaultPython(), torchThreads, blasThreads);
    if (typeof started === 'string') {
      peerSkipped = `${started} (the peer needs Debian's python3 with python3-torch)`;
      progress(`PyTorch peer skipped: ${peerSkipped}`);
    } else {
      peer = started;
    }
  }
  const comparisons: Comparison[] = [];
  const results: Record<string, Record<string, number>> = {};
  const rows: string[][] = [];
  for (const cfg of CONFIGS.filter((c) => wanted.includes(c.name))) {
    const model = CausalLM.create(cfg.model, { seed: 1 });
    progress(`${cfg.name}: ${model.numParams()} parameters, training ${cfg.trainSteps} steps`);
    const train = await benchTrain(model, cfg, cfg.trainSteps);
    progress(`${cfg.name}: ${train.tokens.perS.toFixed(0)} train tok/s; sampling with the KV cache`);
    const sample = await benchSample(model, true);
    progress(`${cfg.name}: ${sample.perS.toFixed(0)} sample tok/s; sampling without cache`);
    const sampleNoCache = await benchSample(model, false);
    const result: Record<string, number> = {
      params: model.numParams(),
      trainTokPerS: Math.round(train.tokens.perS),
      trainTokPerCpuS: Math.round(train.tokens.perCpuS),
      trainGflops: round2(train.gflops),
      trainGflopsPerCpuS: round2(train.gflopsPerCpuS),
      sampleTokPerS: Math.round(sample.perS),
      sampleTokPerCpuS: Math.round(sample.perCpuS),
      sampleNoCacheTokPerS: Math.round(sampleNoCache.perS),
      sampleNoCacheTokPerCpuS: Math.round(sampleNoCache.perCpuS),
      peakRssMiB: Math.round(peakRssMiB()),
    };
    let reference = '-';
    if (cfg.name === 'S' && backend.name === 'wasm' && fastWasmKernelsOn()) {
      progress('S: training with the shipped wasm kernels');
      setFastWasmKernels(false);
      const shipped = await benchTrain(model, cfg, 2);
      setFastWasmKernels(true);
      result.shippedTrainTokPerS = Math.round(shipped.tokens.perS);
      result.shippedTrainTokPerCpuS = Math.round(shipped.tokens.perCpuS);
      result.speedupVsShipped = round2(train.tokens.perCpuS / shipped.tokens.perCpuS);
      reference = `${pair(shipped.tokens)} (x${result.speedupVsShipped})`;
    }
    if (peer && cfg.name === 'S') {
      const p = peer;
      const trainer = await warmTrainer(model, cfg, PEER_ROUNDS * cfg.trainSteps);
      comparisons.push(await compare('S', 'train', async () => (await timeTrain(trainer, model, cfg, cfg.trainSteps)).tokens, () => p.run('S', 'train', cfg.trainSteps)));
      trainer.dispose();
      comparisons.push(await compare('S', 'sample', () => benchSample(model, true, { warm: true }), () => p.run('S', 'sample', 3)));
    }
    model.dispose();
    results[cfg.name] = result;
    rows.push([
      cfg.name, fmt(result.params), `${cfg.batch}x${cfg.model.maxSeqLen}`, pair(train.tokens),
      `${fmt(train.gflops, 1)} / ${fmt(train.gflopsPerCpuS, 1)}`, pair(sample), pair(sampleNoCache),
      fmt(result.peakRssMiB), reference,
    ]);
  }
  if (peer) {
    const p = peer;
    progress('gpt2-124m: creating the model; sampling with the KV cache');
    const model = CausalLM.create(GPT2_124M, { seed: 1 });
    await benchSample(model, true, { runs: 0 }); // the warm-up generation
    comparisons.push(await compare('gpt2-124m', 'sample', () => benchSample(model, true, { warm: true, runs: 1 }), () => p.run('gpt2-124m', 'sample', 1)));
    model.dispose();
    peer.close();
  }
  const header = ['config', 'params', 'batch', 'train tok/s', 'GFLOP/s', 'sample tok/s (KV)', 'sample tok/s (no cache)',
    'peak RSS MiB', 'train tok/s, shipped kernels'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(`commit: ${commit}`);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  console.log('rates: per wall-clock second / per CPU-second of this process (the second ignores other load)');
  console.log('train FLOPs/token = 6 N + 12 L d T; sampling: batch 8, 64 new tokens; speed-up on CPU time');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const vsTorch: Record<string, Record<string, number>> = {};
  const vsTorchPerCpuS: Record<string, Record<string, number>> = {};
  if (peer) {
    console.log(`\nPyTorch peer: torch ${peer.info.torch}, ${peer.info.torchThreads} torch thread(s), OPENBLAS_NUM_THREADS=${blasThreads}; BLAS: ${peer.info.blas}`);
    console.log(`alternating ${PEER_ROUNDS} rounds; tok/s per wall-clock second, round by round (this project / PyTorch); ratio = median of the rounds' ratios`);
    const peerRows = comparisons.map((c) => [
      c.config, c.task, c.ours.map((r) => fmt(r.perS)).join(', '), c.torch.map((r) => fmt(r.tokPerS)).join(', '),
      `${c.ratio}x`, `${c.ratioCpu}x`,
    ]);
    const peerHeader = ['config', 'task', 'this project tok/s', 'PyTorch tok/s', 'ratio', 'ratio per CPU-s'];
    const w = peerHeader.map((h, i) => Math.max(h.length, ...peerRows.map((r) => r[i].length)));
    for (const r of [peerHeader, ...peerRows]) console.log(r.map((cell, i) => cell.padStart(w[i])).join('  '));
    for (const c of comparisons) {
      (vsTorch[c.config] ??= {})[c.task] = c.ratio;
      (vsTorchPerCpuS[c.config] ??= {})[c.task] = c.ratioCpu;
    }
  } else if (peerSkipped) {
    console.log(`\nPyTorch peer skipped: ${peerSkipped}`);
  }
  const peerJson = peer ? { vsTorch, vsTorchPerCpuS } : peerSkipped ? { vsTorch: null, peerSkipped } : {};
  console.log(JSON.stringify({ commit, backend: backend.name, ...results, ...peerJson }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

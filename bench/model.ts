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
 * Training FLOPs per token: 6 N + 12 L d T (N parameters, L layers, width d, context T): the usual 6N for the
 * forward and backward matmuls (the tied output projection included in N) plus the attention scores and the
 * weighted sum, 2 * 2 L d T forward, times 3 with the backward pass.
 */
import { initBackend } from '../lib/backend';
import { setFastWasmKernels, fastWasmKernelsOn } from '../lib/kernels';
import { CausalLM, generate, type ModelConfig } from '../lib/model';
import { CharTokenizer } from '../lib/tokenizer';
import { Trainer } from '../lib/train';

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

/** Trains `steps` updates (after one warm-up update) with the project's Trainer: AdamW, clipping, accumulation. */
async function benchTrain(model: CausalLM, cfg: BenchConfig, steps: number): Promise<TrainResult> {
  const { maxSeqLen: T, vocabSize, dModel, nLayers } = model.config;
  const trainer = new Trainer(model, {
    schedule: { peakLr: 1e-3, warmupSteps: 2, totalSteps: steps + 1 },
    microBatchSize: cfg.microBatch,
  });
  const batch = (seed: number) => ({
    ids: tokenBatch(cfg.batch, T, vocabSize, seed),
    targetMask: Array.from({ length: cfg.batch }, () => new Array<number>(T).fill(1)),
  });
  await trainer.step(batch(0)); // warm-up: kernel setup, optimizer slots
  const tokens = await timed(async () => {
    for (let i = 1; i <= steps; i++) await trainer.step(batch(i));
    return steps * cfg.batch * T;
  });
  trainer.dispose();
  const gflopPerToken = (6 * model.numParams() + 12 * nLayers * dModel * T) / 1e9;
  return { tokens, gflops: tokens.perS * gflopPerToken, gflopsPerCpuS: tokens.perCpuS * gflopPerToken };
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
async function benchSample(model: CausalLM, useCache: boolean): Promise<Rates> {
  const tokenizer = tokenizerFor(model.config.vocabSize);
  const prompts = Array.from({ length: SAMPLE_BATCH }, (_, i) => `Question ${i}: what is ${i} + ${i}?`);
  const [warmupTokens, runs] = useCache ? [SAMPLE_NEW_TOKENS, 3] : [2, 1];
  await generate(model, tokenizer, prompts, { maxNewTokens: warmupTokens, seed: 1, useCache });
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

async function main(): Promise<void> {
  const backend = await initBackend();
  const results: Record<string, Record<string, number>> = {};
  const rows: string[][] = [];
  for (const cfg of CONFIGS) {
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
    model.dispose();
    results[cfg.name] = result;
    rows.push([
      cfg.name, fmt(result.params), `${cfg.batch}x${cfg.model.maxSeqLen}`, pair(train.tokens),
      `${fmt(train.gflops, 1)} / ${fmt(train.gflopsPerCpuS, 1)}`, pair(sample), pair(sampleNoCache),
      fmt(result.peakRssMiB), reference,
    ]);
  }
  const header = ['config', 'params', 'batch', 'train tok/s', 'GFLOP/s', 'sample tok/s (KV)', 'sample tok/s (no cache)',
    'peak RSS MiB', 'train tok/s, shipped kernels'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(`backend: ${backend.name} (${backend.reason})`);
  console.log('rates: per wall-clock second / per CPU-second of this process (the second ignores other load)');
  console.log('train FLOPs/token = 6 N + 12 L d T; sampling: batch 8, 64 new tokens; speed-up on CPU time');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(JSON.stringify({ backend: backend.name, ...results }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

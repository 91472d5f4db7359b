/**
 * `npm run bench:model`: training and sampling speed of the student LM on this machine's tfjs backend.
 *
 * For two GPT-2-layout configs, S (vocab 512, d 128, 4 layers, 4 heads, seq 128, batch 16) and M (vocab 8192,
 * d 384, 6 layers, 6 heads, seq 256, batch 8 as 2 micro-batches of 4), it measures: train tokens/s, achieved
 * GFLOP/s, sampling tokens/s (batch 8, 64 new tokens) with and without the KV cache, and peak RSS. On wasm it
 * also trains S with the shipped BatchMatMul kernel, as the reference for the routed kernel's speed-up.
 * Prints a table, then (last line) one JSON object with the figures.
 *
 * Training FLOPs per token: 6 N + 12 L d T (N parameters, L layers, width d, context T): the usual 6N for the
 * forward and backward matmuls (the tied output projection included in N) plus the attention scores and the
 * weighted sum, 2 * 2 L d T forward, times 3 with the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
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

interface TrainResult { tokPerS: number; gflops: number; secPerStep: number }

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
  const start = performance.now();
  for (let i = 1; i <= steps; i++) await trainer.step(batch(i));
  const seconds = (performance.now() - start) / 1000;
  trainer.dispose();
  const tokens = steps * cfg.batch * T;
  const flopsPerToken = 6 * model.numParams() + 12 * nLayers * dModel * T;
  return { tokPerS: tokens / seconds, gflops: (tokens * flopsPerToken) / seconds / 1e9, secPerStep: seconds / steps };
}

/** A character tokenizer with exactly the model's vocabulary size: 4 specials, then code points from ' '. */
function tokenizerFor(vocabSize: number): CharTokenizer {
  return new CharTokenizer(Array.from({ length: vocabSize - 4 }, (_, i) => String.fromCodePoint(0x20 + i)));
}

async function benchSample(model: CausalLM, useCache: boolean): Promise<number> {
  const tokenizer = tokenizerFor(model.config.vocabSize);
  const prompts = Array.from({ length: SAMPLE_BATCH }, (_, i) => `Question ${i}: what is ${i} + ${i}?`);
  await generate(model, tokenizer, prompts, { maxNewTokens: 2, seed: 1, useCache }); // warm-up
  const start = performance.now();
  const out = await generate(model, tokenizer, prompts, { maxNewTokens: SAMPLE_NEW_TOKENS, seed: 1, useCache });
  const seconds = (performance.now() - start) / 1000;
  return out.reduce((n, g) => n + g.tokenIds.length, 0) / seconds; // rows that sampled EOS stop early
}

/** Progress goes to stderr, so stdout holds only the table and the JSON line. */
const progress = (message: string) => process.stderr.write(`bench:model ${message}\n`);

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const backend = await initBackend();
  const results: Record<string, Record<string, number>> = {};
  const rows: string[][] = [];
  for (const cfg of CONFIGS) {
    const model = CausalLM.create(cfg.model, { seed: 1 });
    progress(`${cfg.name}: ${model.numParams()} parameters, training ${cfg.trainSteps} steps`);
    const train = await benchTrain(model, cfg, cfg.trainSteps);
    progress(`${cfg.name}: ${train.tokPerS.toFixed(0)} train tok/s; sampling with the KV cache`);
    const sampleTokPerS = await benchSample(model, true);
    progress(`${cfg.name}: ${sampleTokPerS.toFixed(0)} sample tok/s; sampling without cache`);
    const sampleNoCacheTokPerS = await benchSample(model, false);
    const result: Record<string, number> = {
      params: model.numParams(),
      trainTokPerS: Math.round(train.tokPerS),
      trainGflops: Number(train.gflops.toFixed(2)),
      secPerStep: Number(train.secPerStep.toFixed(3)),
      sampleTokPerS: Math.round(sampleTokPerS),
      sampleNoCacheTokPerS: Math.round(sampleNoCacheTokPerS),
      peakRssMiB: Math.round(peakRssMiB()),
    };
    if (cfg.name === 'S' && backend.name === 'wasm' && fastWasmKernelsOn()) {
      progress('S: training with the shipped BatchMatMul kernel');
      setFastWasmKernels(false);
      const shipped = await benchTrain(model, cfg, 2);
      setFastWasmKernels(true);
      result.shippedTrainTokPerS = Math.round(shipped.tokPerS);
      result.speedupVsShipped = Number((train.tokPerS / shipped.tokPerS).toFixed(2));
    }
    model.dispose();
    results[cfg.name] = result;
    rows.push([
      cfg.name, fmt(result.params), `${cfg.batch}x${cfg.model.maxSeqLen}`, fmt(result.trainTokPerS), fmt(result.trainGflops, 1),
      fmt(result.sampleTokPerS), fmt(result.sampleNoCacheTokPerS), fmt(result.peakRssMiB),
      result.speedupVsShipped ? `${fmt(result.shippedTrainTokPerS)} (x${result.speedupVsShipped})` : '-',
    ]);
  }
  const header = ['config', 'params', 'batch', 'train tok/s', 'GFLOP/s', 'sample tok/s (KV)', 'sample tok/s (no cache)', 'peak RSS MiB', 'shipped matmul train tok/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(`backend: ${backend.name} (${backend.reason})`);
  console.log('train FLOPs/token = 6 N + 12 L d T; sampling: batch 8, 64 new tokens');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(JSON.stringify({ backend: backend.name, ...results }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * `npm run bench:pretrained`: the student at the exact shapes of GPT-2 124M, SmolLM2-135M and Qwen2.5-0.5B, with
 * random weights, on this machine's wasm backend, and the same model in PyTorch side by side.
 *
 * For each shape, in a child process of its own (the wasm heap never shrinks, so each peak is its own): a random
 * Hugging Face folder (config.json, model.safetensors, a tokenizer.json over the whole vocabulary) is written to a
 * temporary folder and loaded as a researcher's checkpoint would be; then, with LoRA r = 16 (alpha 32, PEFT's
 * default targets), it measures
 * - peak memory: the most bytes of tensor buffers held at once (counted at the wasm allocator) and the
 *   estimate of lib/model/memory.ts for the same plan;
 * - distillation train tokens/s: one row of 256 tokens per micro-batch (halved until the estimate fits the heap;
 *   where the plain plan does not fit, blocks are recomputed, logits taken 64 rows at a time and packed weights kept
 *   within the heap left), AdamW on the adapters (one step after a warm-up step: the machine is shared, so steps
 *   are few);
 * - KV-cache sampling tokens/s: batch 8, 64 new tokens (after a warm-up generation of 8);
 * - the wall time of one GRPO iteration: 4 prompts x 4 samples x 64 new tokens, reference log-probs from the
 *   base (adapters off), one update;
 * and full fine-tuning's train tokens/s and peak where the estimate says it fits in the 4 GiB heap.
 * When Debian's python3 with python3-torch is installed, bench/torch/pretrained_peer.py reads the same folder and
 * measures the same figures in PyTorch (LoRA of the same rank, same row lengths, its default threads).
 * Prints a table, then (last line) one JSON object:
 * `{"gpt2-124m": {"fits": true, "mode": "lora", "peakMiB", "trainTokPerS", "sampleTokPerS", "grpoIterationS", "torch": {...}}, ...}`.
 *
 * The T5 shapes (t5-small 60M, flan-t5-base 250M) are measured with full fine-tuning where its estimate
 * (estimateT5Memory) leaves a quarter of the heap (`mode` `full`), else with LoRA (`mode` `lora`, the full plan's
 * estimate under `full`); without GRPO or a PyTorch peer.
 *
 * Options: `--models gpt2-124m,smollm2-135m,qwen2.5-0.5b,t5-small,flan-t5-base` (default all five), `--no-torch`,
 * `--train-only` (decoder-only shapes: the model made in memory, only the LoRA training steps and their memory;
 * no sampling, GRPO, full fine-tuning or PyTorch peer),
 * `--estimate-only` (the memory estimates of the decoder-only plans alone, in seconds: nothing is allocated).
 * A model whose run fails is reported as failed and left out of the JSON; the command then exits 1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { gitCommit } from './commit';
import { initBackend } from '../lib/backend';
import {
  CausalLM, checkMemory, estimateMemory, estimateT5Memory, keepsHeadPacked, exportHFCheckpoint, generate, LoraAdapter, loadCheckpoint, trackTensorBytes,
  validateModelConfig, WASM_HEAP_BYTES, defaultTargetModules, adapterParameterCount, parameterCount, packedBudgetFor, type ModelConfig, type MemoryPlan,
} from '../lib/model';
import { packedWeights } from '../lib/kernels';
import { exportT5Checkpoint, importT5Checkpoint, T5Model, t5Generate, type T5Config } from '../lib/model';
import { PPOTrainer } from '../lib/rl';
import { Seq2SeqTrainer, Trainer } from '../lib/train';
import type { Example } from '../lib/data/types';

/** The three shapes, from the published models' Hugging Face configs. */
const SHAPES: Record<string, ModelConfig> = {
  'gpt2-124m': { arch: 'gpt2', vocabSize: 50257, dModel: 768, nLayers: 12, nHeads: 12, maxSeqLen: 1024 },
  'smollm2-135m': { arch: 'llama', vocabSize: 49152, dModel: 576, nLayers: 30, nHeads: 9, nKvHeads: 3, dFF: 1536, maxSeqLen: 8192, ropeTheta: 100000, tieEmbeddings: true },
  'qwen2.5-0.5b': { arch: 'qwen2', vocabSize: 151936, dModel: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, dFF: 4864, maxSeqLen: 32768, ropeTheta: 1000000, normEps: 1e-6, tieEmbeddings: true },
};
/** T5 shapes (HF configs of t5-small and google/flan-t5-base): full fine-tuning where it fits, else LoRA; no GRPO yet. */
const T5_SHAPES: Record<string, T5Config> = {
  't5-small': { arch: 't5', vocabSize: 32128, dModel: 512, dKv: 64, dFF: 2048, nLayers: 6, nHeads: 8, maxSeqLen: 512, feedForward: 'relu', tieEmbeddings: true },
  'flan-t5-base': { arch: 't5', vocabSize: 32128, dModel: 768, dKv: 64, dFF: 2048, nLayers: 12, nHeads: 12, maxSeqLen: 512, feedForward: 'gated-gelu', tieEmbeddings: false },
};
const RANK = 16;
const TRAIN_TOKENS = 256;
const SAMPLE_BATCH = 8;
const NEW_TOKENS = 64;
/**
 * GRPO's update runs over `updateRows` rows per minibatch (4 x 72 tokens, about the distillation row's 256), halved for
 * a shape whose update does not fit the heap at 4 (Qwen2.5-0.5B: its 151,936-wide logits).
 */
const GRPO = { prompts: 4, samples: 4, updateRows: 4 };
/**
 * Rows of logits at once where the plain plan does not fit (at most 64: the rows for which the kernel multiplies by
 * the tied embedding without transposing it anew, lib/kernels/batch-matmul.ts).
 */
const LOGIT_CHUNK = 64;
const MiB = 1024 * 1024;
/**
 * Full fine-tuning is tried only when its estimate leaves a quarter of the heap free (the estimate counts tensor
 * bytes at a step's peak, not the heap's fragmentation over a run or kernel scratch).
 */
const FULL_FINE_TUNING_BUDGET = 0.75 * WASM_HEAP_BYTES;

/** Figures of one model (and of its PyTorch peer under `torch`). */
interface ModelFigures {
  fits: boolean;
  /** `lora` for the decoder-only shapes; for T5 `full` where full fine-tuning fits, else `lora` (no T5 LoRA estimate yet). */
  mode: 'lora' | 'full';
  /** Tokens per training micro-batch: 256, or fewer where 256 does not fit the heap. */
  trainTokens: number;
  /** Most bytes of tensor buffers held at once (counted at the wasm allocator). */
  peakMiB: number;
  /** The wasm heap's size at the end: its high-water mark (tensors, XNNPACK's packed weights, fragmentation). */
  heapMiB: number;
  /** Blocks recomputed in the backward pass, and rows of logits at once (0: all), where the plain plan does not fit. */
  gradientCheckpointing?: boolean;
  logitChunkRows?: number;
  /** Bytes of weights whose packed copies were kept (absent: all). */
  packedBudgetMiB?: number;
  /** The memory estimate (estimateMemory of the LoRA plan; estimateT5Memory of the T5 plan). */
  estimateMiB?: number;
  trainTokPerS?: number;
  /** KV-cache sampling (absent with --train-only). */
  sampleTokPerS?: number;
  /** One GRPO iteration (decoder-only shapes; the RL loop takes no T5 policy yet). */
  grpoIterationS?: number;
  /** Rows per GRPO minibatch (GRPO.updateRows, halved where that update does not fit the heap). */
  grpoRows?: number;
  full?: { fits: boolean; estimateMiB: number; peakMiB?: number; trainTokPerS?: number };
  torch?: Record<string, number | string>;
}

/** A tokenizer.json over `vocabSize` ids: BPE without merges, single characters then `<unusedN>`, the last id EOS. */
function wordsTokenizer(vocabSize: number): object {
  const letters = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .?,!:;\'"()-#>[]+=*/\n'];
  const vocab: Record<string, number> = {};
  for (let i = 0; i < vocabSize - 1; i++) vocab[i < letters.length ? letters[i] : `<unused${i}>`] = i;
  vocab['<|endoftext|>'] = vocabSize - 1;
  return {
    version: '1.0', truncation: null, padding: null, normalizer: null, pre_tokenizer: null, post_processor: null,
    added_tokens: [{ id: vocabSize - 1, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
}

/** Writes a random-weight HF folder of `shape` to `dir` (weights from CausalLM.create, disposed before loading). */
async function writeRandomFolder(shape: ModelConfig, dir: string): Promise<void> {
  const model = CausalLM.create(shape, { seed: 1 });
  await exportHFCheckpoint(dir, model);
  model.dispose();
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(configPath, JSON.stringify({ ...config, eos_token_id: shape.vocabSize - 1 }, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordsTokenizer(shape.vocabSize)));
}

function randomRows(rows: number, length: number, vocab: number, seed: number): number[][] {
  let s = seed;
  return Array.from({ length: rows }, () => Array.from({ length }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % (vocab - 1);
  }));
}

/** Train tokens/s of one step (one row of `tokens`) after a warm-up step. */
async function trainRate(model: CausalLM, tokens: number): Promise<number> {
  const trainer = new Trainer(model, { schedule: { peakLr: 1e-4, warmupSteps: 0, totalSteps: 10 }, microBatchSize: 1 });
  const batch = { ids: randomRows(1, tokens, model.config.vocabSize, 5), targetMask: [Array(tokens).fill(1)] };
  await trainer.step(batch);
  const start = performance.now();
  await trainer.step(batch);
  const seconds = (performance.now() - start) / 1000;
  trainer.dispose();
  return tokens / seconds;
}

/**
 * The LoRA plan of a shape (one row per micro-batch, halved from TRAIN_TOKENS until the estimate fits the heap;
 * the GRPO sampling batch) and the rows' length.
 */
function plans(shape: ModelConfig): { loraPlan: MemoryPlan; trainTokens: number } {
  const config = validateModelConfig(shape);
  const lora = { rank: RANK, alpha: 2 * RANK, dropout: 0, targetModules: defaultTargetModules(config) };
  const plain = (seqLen: number): MemoryPlan => ({ config, mode: { kind: 'lora', rank: RANK, parameters: adapterParameterCount(config, lora) }, microBatch: 1, seqLen, sampleBatch: GRPO.prompts * GRPO.samples, sampleLen: NEW_TOKENS + 8 });
  // Where the plain plan does not fit: blocks recomputed, logits LOGIT_CHUNK rows at a time, and XNNPACK's packed
  // copies kept only within the heap left.
  const saving = (seqLen: number): MemoryPlan => {
    const plan = { ...plain(seqLen), gradientCheckpointing: true, logitChunkRows: LOGIT_CHUNK };
    return { ...plan, packedBudget: packedBudgetFor(plan, WASM_HEAP_BYTES) };
  };
  const fits = (plan: MemoryPlan) => estimateMemory(plan).total <= WASM_HEAP_BYTES;
  let trainTokens = TRAIN_TOKENS;
  if (fits(plain(trainTokens))) return { loraPlan: plain(trainTokens), trainTokens };
  while (trainTokens > 32 && !fits(saving(trainTokens))) trainTokens /= 2;
  return { loraPlan: saving(trainTokens), trainTokens };
}

/** The estimates alone: the LoRA plan at 256 tokens and at the length that fits, full fine-tuning at that length. */
function printEstimates(names: string[]): void {
  const out: Record<string, object> = {};
  console.log('| model | parameters | LoRA r=16, 1 x 256 tokens | rows that fit | LoRA at that length | full fine-tuning at that length |');
  console.log('|---|---|---|---|---|---|');
  for (const name of names) {
    const { loraPlan, trainTokens } = plans(SHAPES[name]);
    const at256 = estimateMemory({ ...loraPlan, seqLen: TRAIN_TOKENS }).total;
    const lora = estimateMemory(loraPlan).total;
    const full = estimateMemory({ ...loraPlan, mode: { kind: 'full' }, sampleBatch: 0 }).total;
    const mib = (b: number) => `${Math.round(b / MiB).toLocaleString('en-US')} MiB`;
    console.log(`| ${name} | ${parameterCount(loraPlan.config).toLocaleString('en-US')} | ${mib(at256)} | ${trainTokens} | ${mib(lora)} | ${mib(full)}${full > WASM_HEAP_BYTES ? ' (does not fit)' : ''} |`);
    out[name] = { parameters: parameterCount(loraPlan.config), lora256MiB: Math.round(at256 / MiB), trainTokens, loraMiB: Math.round(lora / MiB), fullMiB: Math.round(full / MiB), fullFits: full <= WASM_HEAP_BYTES };
  }
  console.log(JSON.stringify(out));
}

/** The memory settings a model ran with (see {@link plans}). */
function savingOf(model: CausalLM): Pick<ModelFigures, 'gradientCheckpointing' | 'logitChunkRows' | 'packedBudgetMiB'> {
  return {
    gradientCheckpointing: model.gradientCheckpointing, logitChunkRows: model.logitChunkRows,
    packedBudgetMiB: Number.isFinite(packedWeights.budget) ? Math.round(packedWeights.budget / MiB) : undefined,
  };
}

/**
 * One model's figures, in this process (the child). With `trainOnly` the model is made in memory (no folder) and
 * only loading and the training steps are measured.
 */
async function measure(name: string, dir: string, trainOnly: boolean): Promise<ModelFigures> {
  await initBackend('wasm');
  const shape = SHAPES[name];
  if (!trainOnly) await writeRandomFolder(shape, dir);
  const tracker = trackTensorBytes(tf.backend());
  const { model, tokenizer } = trainOnly ? { model: CausalLM.create(shape, { seed: 1 }), tokenizer: undefined } : await loadCheckpoint(dir, { maxSeqLen: shape.maxSeqLen });
  const lora = { rank: RANK, alpha: 2 * RANK, dropout: 0, targetModules: defaultTargetModules(validateModelConfig(shape)) };
  const { loraPlan, trainTokens } = plans(shape);
  const estimate = checkMemory(loraPlan, WASM_HEAP_BYTES, name);
  model.gradientCheckpointing = loraPlan.gradientCheckpointing ?? false;
  model.logitChunkRows = loraPlan.logitChunkRows ?? 0;
  packedWeights.budget = loraPlan.packedBudget ?? Number.POSITIVE_INFINITY;
  if (keepsHeadPacked(loraPlan)) packedWeights.keep(model.weights.tok_emb);
  const updatePlan = (rows: number): MemoryPlan => ({ ...loraPlan, microBatch: rows, seqLen: NEW_TOKENS + 8 });
  let grpoRows = GRPO.updateRows;
  while (grpoRows > 1 && estimateMemory(updatePlan(grpoRows)).total > WASM_HEAP_BYTES) grpoRows /= 2;
  checkMemory(updatePlan(grpoRows), WASM_HEAP_BYTES, `${name} GRPO update`);
  LoraAdapter.attach(model, lora, { seed: 2 });
  const phase = (what: string) => process.stderr.write(`${name}: ${what} (tensor bytes held: ${Math.round(tracker.current / MiB)} MiB, peak ${Math.round(tracker.peak / MiB)} MiB; heap ${Math.round(tracker.heapBytes / MiB)} MiB)\n`);
  phase('loaded; training');
  const trainTokPerS = await trainRate(model, trainTokens);
  if (!tokenizer) {
    const figures = { fits: true, mode: 'lora' as const, trainTokens, peakMiB: Math.round(tracker.peak / MiB), heapMiB: Math.round(tracker.heapBytes / MiB), estimateMiB: Math.round(estimate.total / MiB), ...savingOf(model), trainTokPerS };
    tracker.stop();
    model.dispose();
    return figures;
  }
  phase('sampling');

  const prompts = randomRows(SAMPLE_BATCH, 8, shape.vocabSize, 9);
  await generate(model, tokenizer, prompts, { maxNewTokens: 8, temperature: 1, seed: 1, stop: [] }); // warm-up
  let start = performance.now();
  const generations = await generate(model, tokenizer, prompts, { maxNewTokens: NEW_TOKENS, temperature: 1, seed: 2, stop: [] });
  const sampleTokPerS = generations.reduce((n, g) => n + g.tokenIds.length, 0) / ((performance.now() - start) / 1000);

  const examples: Example[] = Array.from({ length: GRPO.prompts }, (_, i) => ({ id: `bench/${i}`, question: `q${i} abc`, answers: [''], answerType: 'text' }));
  const reward = { name: 'share-of-a', score: async (batch: { rationale: string }[]) => batch.map(({ rationale }) => [...rationale].filter((c) => c === 'a').length / Math.max(1, rationale.length)) };
  const grpo = new PPOTrainer({
    policy: model, tokenizer, reward, seed: 3, promptOf: (e) => e.question,
    config: { algorithm: 'grpo', samplesPerPrompt: GRPO.samples, maxNewTokens: NEW_TOKENS, minibatchSize: grpoRows, ppoEpochs: 1, stop: [], learningRate: 1e-4 },
  });
  phase('GRPO iteration');
  start = performance.now();
  await grpo.step(examples);
  const grpoIterationS = (performance.now() - start) / 1000;
  grpo.dispose();
  const loraPeak = tracker.peak;
  const loraHeap = tracker.heapBytes;

  // Full fine-tuning where the estimate fits the heap: the adapter merged away, every weight trained.
  const fullPlan = { ...loraPlan, mode: { kind: 'full' as const }, sampleBatch: 0 };
  const fullEstimate = estimateMemory(fullPlan).total;
  let full: ModelFigures['full'] = { fits: fullEstimate <= FULL_FINE_TUNING_BUDGET, estimateMiB: Math.round(fullEstimate / MiB) };
  if (full.fits) {
    model.adapter!.dispose();
    model.adapter = undefined;
    tracker.resetPeak();
    phase('full fine-tuning');
    const rate = await trainRate(model, trainTokens);
    full = { ...full, trainTokPerS: rate, peakMiB: Math.round(tracker.peak / MiB) };
  }
  tracker.stop();
  model.dispose();
  return {
    fits: true, mode: 'lora', trainTokens, peakMiB: Math.round(loraPeak / MiB), heapMiB: Math.round(loraHeap / MiB), estimateMiB: Math.round(estimate.total / MiB),
    ...savingOf(model), trainTokPerS, sampleTokPerS, grpoIterationS, grpoRows, full,
  };
}

/**
 * A T5 shape's figures, in this process (the child): a random HF T5 folder loaded with importT5Checkpoint; train
 * tokens/s on one pair of 128 source + 128 target tokens (TRAIN_TOKENS in all) with full fine-tuning where weights,
 * gradients and AdamW's two moments (16 bytes a parameter) leave a quarter of the heap, else with LoRA (rank RANK on
 * q and v, PEFT's default for T5); KV-cache sampling tokens/s (batch 8, 8-token sources, 64 new tokens).
 */
async function measureT5(name: string, dir: string): Promise<ModelFigures> {
  await initBackend('wasm');
  const shape = T5_SHAPES[name];
  const fresh = T5Model.create(shape, { seed: 1 });
  await exportT5Checkpoint(dir, fresh);
  fresh.dispose();
  const tokenizer = wordsTokenizer(shape.vocabSize) as { added_tokens: object[] };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' }));
  const tracker = trackTensorBytes(tf.backend());
  const loaded = await importT5Checkpoint(dir);
  const model = loaded.model;
  const half = TRAIN_TOKENS / 2;
  const estimate = estimateT5Memory({ config: model.config, microBatch: 1, sourceLen: half, targetLen: half, sampleBatch: SAMPLE_BATCH, sampleSourceLen: 8, sampleLen: NEW_TOKENS });
  const fullFits = estimate.total <= FULL_FINE_TUNING_BUDGET;
  if (!fullFits) LoraAdapter.attach(model, { rank: RANK, alpha: 2 * RANK, dropout: 0, targetModules: defaultTargetModules(model.config) }, { seed: 2 });
  const trainer = new Seq2SeqTrainer(model, { schedule: { peakLr: 1e-4, warmupSteps: 0, totalSteps: 10 } });
  const batch = { sources: randomRows(1, half, shape.vocabSize, 5), sourceMask: [Array(half).fill(1)], targets: randomRows(1, half, shape.vocabSize, 6), targetWeights: [Array(half).fill(1)] };
  await trainer.step(batch);
  const trainStart = performance.now();
  await trainer.step(batch);
  const trainTokPerS = TRAIN_TOKENS / ((performance.now() - trainStart) / 1000);
  trainer.dispose();
  const sources = randomRows(SAMPLE_BATCH, 8, shape.vocabSize, 9);
  await t5Generate(model, loaded.tokenizer!, sources, { maxNewTokens: NEW_TOKENS, temperature: 1, seed: 1, stop: [] });
  const start = performance.now();
  const generations = await t5Generate(model, loaded.tokenizer!, sources, { maxNewTokens: NEW_TOKENS, temperature: 1, seed: 2, stop: [] });
  const sampleTokPerS = generations.reduce((n, g) => n + g.tokenIds.length, 0) / ((performance.now() - start) / 1000);
  const peakMiB = Math.round(tracker.peak / MiB);
  const heapMiB = Math.round(tracker.heapBytes / MiB);
  tracker.stop();
  model.dispose();
  const full = { fits: fullFits, estimateMiB: Math.round(estimate.total / MiB) };
  return {
    fits: true, mode: fullFits ? 'full' : 'lora', trainTokens: TRAIN_TOKENS, peakMiB, heapMiB, trainTokPerS, sampleTokPerS,
    ...(fullFits ? { estimateMiB: full.estimateMiB } : { full }),
  };
}

/** The PyTorch peer's figures for the folder, or why there are none. */
function torchFigures(dir: string, trainTokens: number): Record<string, number | string> {
  const python = '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { skipped: 'python3-torch is not installed' };
  const out = spawnSync(python, [join(__dirname, 'torch', 'pretrained_peer.py'), dir, '--rank', String(RANK), '--train-tokens', String(trainTokens),
    '--sample-batch', String(SAMPLE_BATCH), '--new-tokens', String(NEW_TOKENS), '--grpo-prompts', String(GRPO.prompts), '--grpo-samples', String(GRPO.samples)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) return { failed: (out.stderr || out.stdout).trim().split('\n').slice(-1)[0] ?? `exit ${out.status}` };
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const figures = T5_SHAPES[args[1]] ? await measureT5(args[1], args[2]) : await measure(args[1], args[2], args.includes('--train-only'));
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return;
  }
  const known = [...Object.keys(SHAPES), ...Object.keys(T5_SHAPES)];
  const selected = (args.includes('--models') ? args[args.indexOf('--models') + 1].split(',') : known);
  const unknown = selected.find((n) => !known.includes(n));
  if (unknown) {
    process.stderr.write(`bench:pretrained: unknown model "${unknown}" (known: ${known.join(', ')})\n`);
    process.exit(2);
  }
  if (args.includes('--estimate-only')) {
    printEstimates(selected.filter((n) => SHAPES[n]));
    return;
  }
  const commit = gitCommit();
  console.log(`bench:pretrained on commit ${commit}, tfjs wasm (1 thread) vs PyTorch ${args.includes('--no-torch') ? '(skipped: --no-torch)' : ''}`);
  const results: Record<string, ModelFigures> = {};
  for (const name of selected) {
    const dir = mkdtempSync(join(tmpdir(), `rrl-bench-${name}-`));
    try {
      const trainOnly = args.includes('--train-only') && !T5_SHAPES[name];
      const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), __filename, '--child', name, dir, ...(trainOnly ? ['--train-only'] : [])], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
      const last = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !last.startsWith('{')) {
        console.log(`${name}: failed (exit ${child.status}): ${last}`);
        process.exitCode = 1;
        continue;
      }
      const figures = JSON.parse(last) as ModelFigures;
      if (T5_SHAPES[name]) figures.torch = { skipped: 'no PyTorch T5 peer' };
      else if (trainOnly) figures.torch = { skipped: '--train-only' };
      else if (!args.includes('--no-torch') && existsSync(join(dir, 'model.safetensors'))) figures.torch = torchFigures(dir, figures.trainTokens);
      results[name] = figures;
      console.log(`# ${name}: ${JSON.stringify(figures)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const num = (v: unknown, digits = 1) => (typeof v === 'number' ? v.toFixed(digits) : '—');
  const ratio = (ours: number, theirs: unknown) => (typeof theirs === 'number' && theirs > 0 ? `${(ours / theirs).toFixed(2)}x` : '—');
  console.log('| model | mode | tensor peak MiB / heap MiB (estimate) | train tok/s | sample tok/s | GRPO iteration s | torch train / sample tok/s, GRPO s, peak RSS MiB | wasm/torch train, sample |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, f] of Object.entries(results)) {
    const t = f.torch ?? {};
    if (f.mode === 'full') {
      console.log(`| ${name} | full, ${f.trainTokens} tokens | ${f.peakMiB} / ${f.heapMiB} (${f.estimateMiB}) | ${f.fits ? num(f.trainTokPerS) : 'does not fit'} | ${num(f.sampleTokPerS)} | — | ${t.skipped ?? '—'} | — |`);
      continue;
    }
    const saving = f.gradientCheckpointing ? `, recomputed blocks, logits ${f.logitChunkRows} rows at a time${f.packedBudgetMiB !== undefined ? `, packed weights ${f.packedBudgetMiB} MiB` : ''}` : '';
    console.log(`| ${name} | LoRA r=${RANK}, ${f.trainTokens} tokens${saving} | ${f.peakMiB} / ${f.heapMiB} (${f.estimateMiB ?? 'no estimate'}) | ${num(f.trainTokPerS)} | ${num(f.sampleTokPerS)} | ${num(f.grpoIterationS)} | `
      + `${t.skipped ?? t.failed ?? `${num(t.trainTokPerS)} / ${num(t.sampleTokPerS)}, ${num(t.grpoIterationS)}, ${num(t.peakRssMiB, 0)}`} | ${ratio(f.trainTokPerS!, t.trainTokPerS)}, ${ratio(f.sampleTokPerS ?? 0, t.sampleTokPerS)} |`);
    if (f.full) console.log(`| ${name} | full | ${f.full.fits ? `${f.full.peakMiB} (${f.full.estimateMiB})` : `does not fit (estimate ${f.full.estimateMiB})`} | ${num(f.full.trainTokPerS)} | | | | |`);
  }
  console.log(JSON.stringify(results));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { packedWeights } from '../../lib/kernels';
import { CausalLM } from '../../lib/model/causal-lm';
import { validateModelConfig, type ModelConfig } from '../../lib/model/config';
import { checkMemory, estimateMemory, estimateT5Memory, keepsHeadPacked, MemoryLimitError, packedBudgetFor, parameterCount, trackTensorBytes, WASM_HEAP_BYTES } from '../../lib/model/memory';
import { T5Model } from '../../lib/model/t5';
import type { T5Config } from '../../lib/model/t5-config';
import { Seq2SeqTrainer } from '../../lib/train/seq2seq';
import { Trainer } from '../../lib/train/trainer';
import { tokenRows } from './tiny';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('memory', () => {
  test('a created model holds one float32 copy of its weights', () => {
    const before = tf.memory();
    const config: ModelConfig = { arch: 'gpt2', vocabSize: 1000, dModel: 64, nLayers: 3, nHeads: 4, maxSeqLen: 128 };
    const model = CausalLM.create(config);
    const after = tf.memory();
    const tensors = Object.keys(model.weights).length + Object.keys(model.valueHeadWeights).length;
    // value head: d + 1 parameters
    expect(after.numBytes - before.numBytes).toBe(4 * (model.numParams() + 64 + 1));
    expect(after.numTensors - before.numTensors).toBe(tensors);
    expect(parameterCount(model.config)).toBe(model.numParams());
    model.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });

  test.each([
    ['gpt2', { arch: 'gpt2', vocabSize: 64, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 64 }, 4, 64, false, 0],
    ['gpt2 wide vocabulary', { arch: 'gpt2', vocabSize: 2000, dModel: 64, nLayers: 2, nHeads: 2, maxSeqLen: 32 }, 8, 32, false, 0],
    ['llama GQA', { arch: 'llama', vocabSize: 300, dModel: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, maxSeqLen: 64 }, 4, 64, false, 0],
    ['llama, recomputed blocks', { arch: 'llama', vocabSize: 300, dModel: 96, nLayers: 6, nHeads: 6, nKvHeads: 2, maxSeqLen: 64 }, 4, 64, true, 0],
    ['qwen2 wide vocabulary, recomputed blocks, logits 32 rows at a time', { arch: 'qwen2', vocabSize: 3000, dModel: 64, nLayers: 4, nHeads: 4, nKvHeads: 2, maxSeqLen: 64 }, 4, 64, true, 32],
  ] as [string, ModelConfig, number, number, boolean, number][])('estimate of tensor bytes within 15%% of the measured training-step peak: %s', async (_name, config, rows, length, gradientCheckpointing, logitChunkRows) => {
    const model = CausalLM.create(config);
    model.gradientCheckpointing = gradientCheckpointing;
    model.logitChunkRows = logitChunkRows;
    const trainer = new Trainer(model, { schedule: { peakLr: 1e-3, warmupSteps: 1, totalSteps: 10 } });
    const batch = { ids: tokenRows(rows, length, config.vocabSize, 7, 0), targetMask: Array.from({ length: rows }, () => Array(length).fill(1)) };
    const start = tf.memory().numBytes;
    const tracker = trackTensorBytes(tf.backend());
    await trainer.step(batch);
    tracker.stop();
    const estimate = estimateMemory({ config: model.config, mode: { kind: 'full' }, microBatch: rows, seqLen: length, gradientCheckpointing, logitChunkRows });
    // Held before the step: weights, value head and AdamW's moments (allocated by the Trainer).
    const valueHead = 4 * (config.dModel + 1);
    expect(start).toBeGreaterThanOrEqual(estimate.weights + estimate.optimizer + valueHead);
    const measured = tracker.peak + estimate.weights + estimate.optimizer + valueHead;
    // XNNPACK's packed copies live in the heap outside the tensors the tracker counts
    const tensors = estimate.total - estimate.packed;
    expect(tensors / measured).toBeGreaterThan(0.85);
    expect(tensors / measured).toBeLessThan(1.15);
    trainer.dispose();
    model.dispose();
  });

  test('refuses full fine-tuning of a GPT-2-124M shape on the wasm heap, naming the numbers and what fits', () => {
    const config = validateModelConfig({ arch: 'gpt2', vocabSize: 50257, dModel: 768, nLayers: 12, nHeads: 12, maxSeqLen: 1024 });
    const plan = { config, mode: { kind: 'full' } as const, microBatch: 4, seqLen: 256 };
    const estimate = estimateMemory(plan);
    // weights: 124,439,808 parameters x 4 bytes; moments twice that
    expect(estimate.weights).toBe(124_439_808 * 4);
    expect(estimate.optimizer).toBe(124_439_808 * 8);
    let error: unknown;
    try {
      checkMemory(plan, WASM_HEAP_BYTES, 'distill: student');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemoryLimitError);
    const message = (error as Error).message;
    const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024).toLocaleString('en-US')} MiB`;
    expect(message).toContain(`distill: student: estimated peak memory ${mib(estimate.total)}`);
    expect(message).toContain(`weights ${mib(estimate.weights)}`);
    expect(message).toContain(`exceeds the backend's 4,096 MiB`);
    expect(message).toContain('124,439,808 parameters, full fine-tuning, micro-batch 4 x 256 tokens');
    expect(message).toMatch(/settings that fit: micro-batch 1: [\d,]+ MiB; sequence length 64: [\d,]+ MiB/);
    expect(message).toMatch(/; gradientCheckpointing with logitChunkRows 64: [\d,]+ MiB/);
    // One row of 256 tokens with LoRA passes: the activations alone of 4 x 256 tokens exceed 4 GiB.
    const lora = { ...plan, mode: { kind: 'lora', rank: 16, parameters: 16 * 12 * 2 * (768 + 3 * 768) } as const };
    expect(estimateMemory(lora).activations).toBeGreaterThan(WASM_HEAP_BYTES);
    expect(checkMemory({ ...lora, microBatch: 1 }, WASM_HEAP_BYTES, 'x').total).toBeLessThan(WASM_HEAP_BYTES);
  });

  test('Qwen2.5-0.5B with LoRA on rows of 256: refused, recomputed blocks with chunked logits among what fits, at the heap within the packed-weights budget', () => {
    const config = validateModelConfig({ arch: 'qwen2', vocabSize: 151936, dModel: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, dFF: 4864, maxSeqLen: 4096, tieEmbeddings: true });
    const plan = { config, mode: { kind: 'lora', rank: 16, parameters: 1_081_344 } as const, microBatch: 1, seqLen: 256 };
    let error: unknown;
    try {
      checkMemory(plan, WASM_HEAP_BYTES, 'rl: student');
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(/settings that fit: .*gradientCheckpointing with logitChunkRows 64: 4,096 MiB/);
    const saving = { ...plan, gradientCheckpointing: true, logitChunkRows: 64 };
    // every packed copy kept: over the heap; within the budget packedBudgetFor gives: at the heap
    expect(estimateMemory(saving).total).toBeGreaterThan(WASM_HEAP_BYTES);
    const budget = packedBudgetFor(saving, WASM_HEAP_BYTES);
    expect(budget).toBeGreaterThan(0);
    expect(Math.abs(estimateMemory({ ...saving, packedBudget: budget }).total - WASM_HEAP_BYTES)).toBeLessThan(1024);
    // the parts: 494,032,768 weights; the packed copies within the budget, the frozen tied head's kept first
    // among them, plus the head's size once more (headroom)
    const estimate = estimateMemory({ ...saving, packedBudget: budget });
    const head = 4 * 151936 * 896;
    expect(estimate.weights).toBe(4 * 494_032_768);
    expect(keepsHeadPacked({ ...saving, packedBudget: budget })).toBe(true);
    expect(budget).toBeGreaterThan(head);
    expect(estimate.packed).toBe(budget + head);
    // full fine-tuning trains the head: it is packed anew per use, twice
    const full = { ...saving, mode: { kind: 'full' } as const, packedBudget: 0 };
    expect(keepsHeadPacked(full)).toBe(false);
    expect(estimateMemory(full).packed).toBe(2 * head);
    // under a budget the chunks read the embedding as it is (no transposed copy); with every packed copy kept, one
    expect(estimate.headCopy).toBe(0);
    expect(estimateMemory(saving).headCopy).toBe(4 * 151936 * 896);
    expect(packedBudgetFor({ ...saving, config: validateModelConfig({ arch: 'gpt2', vocabSize: 64, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 64 }) }, WASM_HEAP_BYTES)).toBe(Number.POSITIVE_INFINITY);
  });

  test('decoding a tied head with logits in chunks: the same logits bit for bit, the kernel\'s one transposed copy while every packed copy is kept, none under a budget', () => {
    const config: ModelConfig = { arch: 'qwen2', vocabSize: 3000, dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 96, maxSeqLen: 64, tieEmbeddings: true };
    const model = CausalLM.create(config, { seed: 3 });
    const prompt = tokenRows(3, 5, config.vocabSize, 2, 0);
    /** Logits of a prompt pass and 3 greedy steps, and the tensor bytes the pass made and holds before its cache is disposed. */
    const decode = () => {
      const tracker = trackTensorBytes(tf.backend());
      const start = tracker.current;
      const cache = model.newCache();
      const logits: number[][] = [];
      let ids = tf.tensor2d(prompt, undefined, 'int32');
      for (let step = 0; step < 4; step++) {
        const next = tf.tidy(() => {
          const out = tf.squeeze(model.forward(ids, { cache, lastOnly: true }).logits, [1]); // [3, V]
          logits.push(Array.from(out.dataSync()));
          return tf.reshape(tf.cast(tf.argMax(out, -1), 'int32'), [3, 1]);
        });
        ids.dispose();
        ids = next as tf.Tensor2D;
      }
      ids.dispose();
      const held = tracker.current - start;
      cache.dispose();
      tracker.stop();
      return { logits, held };
    };
    const whole = decode(); // the transposed embedding made per cache
    model.logitChunkRows = 32;
    const kept = decode(); // the kernel's transposed copy (shared with the chunks of scoring)
    packedWeights.budget = 0;
    let none: ReturnType<typeof decode>;
    try {
      none = decode(); // (E h^T)^T: no copy
    } finally {
      packedWeights.budget = Number.POSITIVE_INFINITY;
    }
    expect(kept.logits).toEqual(whole.logits);
    expect(none.logits).toEqual(whole.logits);
    const head = 4 * config.vocabSize * config.dModel;
    expect(whole.held - none.held).toBe(head);
    expect(kept.held - none.held).toBe(head);
    const plan = { config: model.config, mode: { kind: 'lora', rank: 4, parameters: 0 } as const, microBatch: 0, seqLen: 0, sampleBatch: 3, sampleLen: 8 };
    expect(estimateMemory(plan).headCopy).toBe(head);
    expect(estimateMemory({ ...plan, logitChunkRows: 32 }).headCopy).toBe(head);
    expect(estimateMemory({ ...plan, logitChunkRows: 32, packedBudget: 0 }).headCopy).toBe(0);
    model.dispose();
  });

  test('a KV cache decoding 40 tokens is copied O(log n) times and holds at most twice the positions it has filled', () => {
    const model = CausalLM.create({ arch: 'gpt2', vocabSize: 40, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 128 }, { seed: 5 });
    const cache = model.newCache();
    const buffers = new Set<object>();
    let ids = tf.tensor2d(tokenRows(4, 8, 40, 6, 0), undefined, 'int32');
    for (let step = 0; step < 41; step++) {
      const next = tf.tidy(() => tf.reshape(tf.cast(tf.argMax(tf.squeeze(model.forward(ids, { cache, lastOnly: true }).logits, [1]), -1), 'int32'), [4, 1]));
      ids.dispose();
      ids = next as tf.Tensor2D;
      const { k, filled, slots } = cache.layer(1)!;
      expect(filled).toBe(8 + step);
      expect(slots).toBeLessThanOrEqual(2 * filled);
      buffers.add(k.dataId);
    }
    // the prompt's 8 positions, then 18, 38 and 78 slots (slotsFor doubles the length that found no free slot)
    expect(buffers.size).toBe(4);
    ids.dispose();
    cache.dispose();
    model.dispose();
  });

  test('a prompt filling a KV cache holds one block\'s intermediates at a time, not every layer\'s', () => {
    const config: ModelConfig = { arch: 'llama', vocabSize: 50, dModel: 64, nLayers: 6, nHeads: 4, nKvHeads: 2, dFF: 192, maxSeqLen: 64 };
    const model = CausalLM.create(config, { seed: 4 });
    const ids = tf.tensor2d(tokenRows(8, 24, config.vocabSize, 5, 0), undefined, 'int32');
    /** Tensor bytes at the peak of one prompt pass in a tidy (as sampling runs it), above what was held before. */
    const peakOf = (withCache: boolean) => {
      const cache = withCache ? model.newCache() : undefined;
      const tracker = trackTensorBytes(tf.backend());
      const start = tracker.current;
      const logits = tf.tidy(() => Array.from(model.forward(ids, { cache, lastOnly: true }).logits.dataSync()));
      const peak = tracker.peak - start;
      tracker.stop();
      cache?.dispose();
      return { peak, logits };
    };
    const tensors = tf.memory().numTensors;
    const whole = peakOf(false);
    const prompt = peakOf(true);
    expect(tf.memory().numTensors).toBe(tensors);
    // (decoding's fused norm kernel rounds apart from the composite ops; bench/model-bits.ts pins the bits)
    prompt.logits.forEach((v, i) => expect(Math.abs(v - whole.logits[i])).toBeLessThan(1e-5));
    // 6 layers' intermediates against one layer's, plus the cache's keys and values of all six
    expect(prompt.peak).toBeLessThan(0.5 * whole.peak);
    ids.dispose();
    model.dispose();
  });

  test.each([
    ['relu, tied', { arch: 't5', vocabSize: 500, dModel: 64, dKv: 16, dFF: 128, nLayers: 2, nHeads: 4, maxSeqLen: 128, feedForward: 'relu', tieEmbeddings: true }, 4, 64, 32],
    ['gated-GELU, untied, wide vocabulary', { arch: 't5', vocabSize: 3000, dModel: 64, dKv: 16, dFF: 128, nLayers: 2, nHeads: 4, maxSeqLen: 128, feedForward: 'gated-gelu', tieEmbeddings: false }, 4, 32, 32],
  ] as [string, T5Config, number, number, number][])('T5 estimate of tensor bytes within 15%% of the measured training-step peak: %s', async (_name, config, rows, sourceLen, targetLen) => {
    const model = T5Model.create(config, { seed: 1 });
    const trainer = new Seq2SeqTrainer(model, { schedule: { peakLr: 1e-3, warmupSteps: 0, totalSteps: 10 } });
    const ones = (n: number, l: number) => Array.from({ length: n }, () => Array(l).fill(1));
    const batch = { sources: tokenRows(rows, sourceLen, config.vocabSize, 3, 1), sourceMask: ones(rows, sourceLen), targets: tokenRows(rows, targetLen, config.vocabSize, 4, 1), targetWeights: ones(rows, targetLen) };
    await trainer.step(batch); // AdamW's moments exist from here
    const tracker = trackTensorBytes(tf.backend());
    const before = tracker.current;
    await trainer.step(batch);
    tracker.stop();
    const estimate = estimateT5Memory({ config: model.config, microBatch: rows, sourceLen, targetLen });
    const measured = tracker.peak - before + estimate.weights + estimate.optimizer;
    const tensors = estimate.total - estimate.packed;
    expect(tensors / measured).toBeGreaterThan(0.85);
    expect(tensors / measured).toBeLessThan(1.15);
    trainer.dispose();
    model.dispose();
  });
});

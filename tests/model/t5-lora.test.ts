/**
 * LoRA on T5's projections (q, k, v, o of self- and cross-attention, wi / wi_0 / wi_1, wo): adapted forward =
 * merged-weights forward, the view without adapters = the base, finite-difference gradients of every adapter
 * matrix, Seq2SeqTrainer steps on adapters only, and PEFT's layout with T5's module names through real files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { LoraAdapter, mergedArrays, type LoraConfig } from '../../lib/model/lora';
import { T5Model } from '../../lib/model/t5';
import type { T5Config } from '../../lib/model/t5-config';
import { t5TargetLogProbs } from '../../lib/model/t5-logprobs';
import { Seq2SeqTrainer } from '../../lib/train/seq2seq';
import { directionalDerivative, expectOnlyAdapterTrains, maxAbsDiff, randomizeB, savedAdapter, tokenRows } from './tiny';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-t5-lora-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY_T5: Record<'v1.0' | 'v1.1', T5Config> = {
  'v1.0': { arch: 't5', vocabSize: 23, dModel: 16, dKv: 6, nHeads: 2, dFF: 24, nLayers: 2, nDecoderLayers: 1, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24, feedForward: 'relu', tieEmbeddings: true },
  'v1.1': { arch: 't5', vocabSize: 23, dModel: 16, dKv: 6, nHeads: 2, dFF: 24, nLayers: 1, nDecoderLayers: 2, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24, feedForward: 'gated-gelu', tieEmbeddings: false },
};
const ALL_TARGETS = { 'v1.0': ['q', 'k', 'v', 'o', 'wi', 'wo'], 'v1.1': ['q', 'k', 'v', 'o', 'wi_0', 'wi_1', 'wo'] };
const loraConfig = (layout: 'v1.0' | 'v1.1'): LoraConfig => ({ rank: 3, alpha: 6, dropout: 0, targetModules: ALL_TARGETS[layout] });

const source = () => tf.tensor2d(tokenRows(2, 7, 23, 11), undefined, 'int32');
const sourceMask = () => tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]], undefined, 'int32');
const target = () => tf.tensor2d(tokenRows(2, 5, 23, 13), undefined, 'int32');
const logProbs = (model: T5Model) => t5TargetLogProbs(model, source(), sourceMask(), target());

describe.each(['v1.0', 'v1.1'] as const)('T5 %s LoRA', (layout) => {
  test('adapter off = base exactly; B = 0 adds nothing; forward = merged-weights forward', async () => {
    const model = T5Model.create(TINY_T5[layout], { seed: 2 });
    const base = logProbs(model);
    const adapter = LoraAdapter.attach(model, loraConfig(layout), { seed: 3 });
    expect(maxAbsDiff(logProbs(model), base)).toBe(0);
    randomizeB(adapter, 1);
    const adapted = logProbs(model);
    expect(maxAbsDiff(adapted, base)).toBeGreaterThan(1e-3);
    const view = model.withoutAdapter();
    expect(maxAbsDiff(logProbs(view), base)).toBe(0);
    view.dispose(); // a view frees nothing of the model's
    const merged = T5Model.fromWeights(TINY_T5[layout], await mergedArrays(model), 'merged');
    expect(maxAbsDiff(logProbs(merged), adapted)).toBeLessThan(1e-5);
    adapter.mergeIntoModel(model);
    expect(model.adapter).toBeUndefined();
    expect(maxAbsDiff(logProbs(model), adapted)).toBeLessThan(1e-5);
    merged.dispose();
    model.dispose();
  });

  test('PEFT layout with T5 module names, round trip through real files', async () => {
    const model = T5Model.create(TINY_T5[layout], { seed: 8 });
    const adapter = LoraAdapter.attach(model, loraConfig(layout), { seed: 1 });
    randomizeB(adapter, 4);
    const adapted = logProbs(model);
    const dir = join(root, `${layout}-adapter`);
    const { config, tensors } = await savedAdapter(adapter, dir, 'tiny-t5');
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_2_SEQ_LM', r: 3, lora_alpha: 6, target_modules: ALL_TARGETS[layout], fan_in_fan_out: false });
    // [r, in] and [out, r]; attention inner width nHeads * dKv = 12
    expect(tensors.get('base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight')!.shape).toEqual([3, 16]);
    expect(tensors.get('base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_B.weight')!.shape).toEqual([12, 3]);
    expect(tensors.get('base_model.model.decoder.block.0.layer.1.EncDecAttention.o.lora_A.weight')!.shape).toEqual([3, 12]);
    const ff = layout === 'v1.0' ? 'wi' : 'wi_1';
    expect(tensors.get(`base_model.model.decoder.block.0.layer.2.DenseReluDense.${ff}.lora_B.weight`)!.shape).toEqual([24, 3]);
    expect(tensors.get('base_model.model.encoder.block.0.layer.1.DenseReluDense.wo.lora_A.weight')!.shape).toEqual([3, 24]);
    const { nLayers, nDecoderLayers } = TINY_T5[layout];
    const perBlock = (attentions: number) => 4 * attentions + ALL_TARGETS[layout].length - 4;
    expect(tensors.size).toBe(2 * (nLayers! * perBlock(1) + nDecoderLayers! * perBlock(2)));
    const fresh = T5Model.create(TINY_T5[layout], { seed: 8 });
    LoraAdapter.load(dir, fresh);
    expect(maxAbsDiff(logProbs(fresh), adapted)).toBe(0);
    fresh.dispose();
    model.dispose();
  });
});

// gated-GELU only, as the model's own gradient check: ReLU's kinks make central differences unreliable (v1.0's `wi`
// goes through the same projection hook as wi_0 and wi_1)
test('T5 v1.1 LoRA: every adapter matrix\'s gradient matches finite differences', () => {
  const model = T5Model.create(TINY_T5['v1.1'], { seed: 5 });
  const adapter = LoraAdapter.attach(model, loraConfig('v1.1'), { seed: 6 });
  randomizeB(adapter, 9, 0.05); // small: T5's unscaled attention saturates under large updates
  const loss = () => tf.tidy(() => tf.neg(tf.mean(logProbs(model))) as tf.Scalar);
  const { grads } = tf.variableGrads(loss, Object.values(adapter.weights));
  expect(Object.keys(grads).length).toBe(Object.keys(adapter.weights).length);
  for (const [name, v] of Object.entries(adapter.weights)) {
    const g = grads[v.name];
    const norm = Math.sqrt(tf.sum(tf.square(g)).dataSync()[0]);
    expect([name, norm > 1e-4]).toEqual([name, true]); // every adapter takes part
    const direction = tf.div(g, norm);
    const numeric = directionalDerivative(loss, v, direction);
    if (!(Math.abs(numeric - norm) <= Math.max(2e-4, 0.01 * norm))) throw new Error(`${name}: finite difference ${numeric} vs analytic ${norm}`);
    direction.dispose();
  }
  tf.dispose(Object.values(grads));
  model.dispose();
});

test('Seq2SeqTrainer with T5 LoRA: only the adapters change, optimizer state only for them, no tensor leak', async () => {
  const model = T5Model.create(TINY_T5['v1.1'], { seed: 4 });
  const before = await model.toArrays();
  const adapter = LoraAdapter.attach(model, { rank: 2, alpha: 4, dropout: 0.1, targetModules: ['q', 'v'] }, { seed: 5 });
  const trainer = new Seq2SeqTrainer(model, { schedule: { peakLr: 1e-2, warmupSteps: 0, totalSteps: 10 }, microBatchSize: 2 });
  const rows = tokenRows(3, 6, 23, 5).map((sourceRow, i) => ({ source: sourceRow, target: tokenRows(3, 4, 23, 7)[i], weight: 1, truncated: false }));
  await expectOnlyAdapterTrains(async () => (await trainer.stepRows(rows, 0)).loss, model, before, trainer.optimizer, adapter);
  expect(Object.keys(adapter.weights)).toContain('decoder.layers.1.cross.wv.lora_a'); // `v` selects self- and cross-attention's
  trainer.dispose();
  model.dispose();
});

test('a T5 target that names no projection is refused with the valid names', () => {
  const model = T5Model.create(TINY_T5['v1.1']);
  expect(() => LoraAdapter.attach(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] }, { where: 'student.lora' }))
    .toThrow('student.lora: target module "q_proj" matches no t5 projection; valid names: q, k, v, o, wi_0, wi_1, wo');
  expect(model.adapter).toBeUndefined();
  model.dispose();
});

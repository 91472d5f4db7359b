import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { LoraAdapter, mergedArrays, type LoraConfig } from '../../lib/model/lora';
import { maskedCrossEntropy } from '../../lib/train/loss';
import { Trainer } from '../../lib/train/trainer';
import { TINY, directionalDerivative, expectOnlyAdapterTrains, maxAbsDiff, randomizeB, savedAdapter, tokenRows } from './tiny';

let root: string;
beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
  root = mkdtempSync(join(tmpdir(), 'rrl-lora-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ALL_TARGETS = { gpt2: ['c_attn', 'c_proj', 'c_fc'], llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
const loraConfig = (arch: 'gpt2' | 'llama', targets = ALL_TARGETS[arch]): LoraConfig => ({ rank: 3, alpha: 6, dropout: 0, targetModules: targets });

/** B starts at zero (the update is off); random B makes every adapter matter. */
const ids = () => tf.tensor2d(tokenRows(2, 9, 23, 11), undefined, 'int32');

describe.each(['gpt2', 'llama'] as const)('%s LoRA', (arch) => {
  test('adapter off = base logits exactly; B = 0 adds nothing; forward = merged-weights forward', async () => {
    const model = CausalLM.create(TINY[arch], { seed: 2 });
    const base = model.forward(ids()).logits;
    const adapter = LoraAdapter.attach(model, loraConfig(arch), { seed: 3 });
    const untrained = model.forward(ids()).logits;
    expect(maxAbsDiff(untrained, base)).toBe(0);
    randomizeB(adapter, 1);
    const adapted = model.forward(ids()).logits;
    expect(maxAbsDiff(adapted, base)).toBeGreaterThan(1e-3);
    const view = model.withoutAdapter();
    expect(maxAbsDiff(view.forward(ids()).logits, base)).toBe(0);
    view.dispose(); // a view frees nothing of the model's
    const merged = CausalLM.fromWeights(TINY[arch], await mergedArrays(model), 'merged');
    expect(maxAbsDiff(merged.forward(ids()).logits, adapted)).toBeLessThan(1e-5);
    // merged in place: the same model, no adapter, same logits
    adapter.mergeIntoModel(model);
    expect(model.adapter).toBeUndefined();
    expect(maxAbsDiff(model.forward(ids()).logits, adapted)).toBeLessThan(1e-5);
    tf.dispose([base, untrained, adapted]);
    merged.dispose();
    model.dispose();
  });

  test('A and B gradients match finite differences', () => {
    const model = CausalLM.create({ ...TINY[arch], nLayers: 1 }, { seed: 5 });
    const adapter = LoraAdapter.attach(model, loraConfig(arch), { seed: 6 });
    randomizeB(adapter, 9);
    for (const v of Object.values(adapter.weights)) tf.tidy(() => v.assign(tf.mul(v, 3)));
    const tokens = ids();
    const targetMask = tf.ones([2, 8]);
    const loss = () => tf.tidy(() => maskedCrossEntropy(tf.slice(model.forward(tokens).logits, [0, 0, 0], [2, 8, -1]), tf.slice(tokens, [0, 1], [2, 8]) as tf.Tensor2D, targetMask as tf.Tensor2D) as tf.Scalar);
    const { grads } = tf.variableGrads(loss, Object.values(adapter.weights));
    // base weights get no gradient
    expect(Object.keys(grads).length).toBe(Object.keys(adapter.weights).length);
    for (const [name, v] of Object.entries(adapter.weights)) {
      const g = grads[v.name];
      const norm = Math.sqrt(tf.sum(tf.square(g)).dataSync()[0]);
      expect(norm).toBeGreaterThan(1e-4);
      const direction = tf.div(g, norm);
      // the derivative along the normalised gradient is the gradient's norm
      const numeric = directionalDerivative(loss, v, direction);
      if (!(Math.abs(numeric - norm) <= 2e-3 + 1e-2 * norm)) throw new Error(`${name}: finite difference ${numeric} vs analytic ${norm}`);
      direction.dispose();
    }
    tf.dispose([tokens, targetMask, ...Object.values(grads)]);
    model.dispose();
  });

  test('training steps change only the adapter, optimizer state only for it, no tensor leak', async () => {
    const model = CausalLM.create(TINY[arch], { seed: 4 });
    const before = await model.toArrays();
    const held = tf.memory();
    const adapter = LoraAdapter.attach(model, { ...loraConfig(arch), dropout: 0.1 }, { seed: 5 });
    const trainer = new Trainer(model, { schedule: { peakLr: 1e-2, warmupSteps: 0, totalSteps: 10 }, microBatchSize: 2 });
    const batch = { ids: tokenRows(4, 10, 23, 5), targetMask: Array.from({ length: 4 }, () => Array(10).fill(1)) };
    await expectOnlyAdapterTrains(async () => (await trainer.step(batch)).loss, model, before, trainer.optimizer, adapter);
    expect(adapter.training).toBe(false);
    trainer.dispose();
    // the adapter and the optimizer gone, what the model held before remains, nothing more
    adapter.dispose();
    model.adapter = undefined;
    expect(tf.memory().numTensors).toBe(held.numTensors);
    expect(tf.memory().numBytes).toBe(held.numBytes);
    model.dispose();
  });

  test('PEFT layout round trip through real files', async () => {
    const model = CausalLM.create(TINY[arch], { seed: 8 });
    const adapter = LoraAdapter.attach(model, loraConfig(arch), { seed: 1 });
    randomizeB(adapter, 4);
    const adapted = model.forward(ids()).logits;
    const dir = join(root, `${arch}-adapter`);
    const { config, tensors } = await savedAdapter(adapter, dir, 'tiny-base');
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 3, lora_alpha: 6, lora_dropout: 0, target_modules: ALL_TARGETS[arch], base_model_name_or_path: 'tiny-base', fan_in_fan_out: arch === 'gpt2' });
    const d = TINY[arch].dModel;
    if (arch === 'llama') {
      // PEFT's names and [r, in] / [out, r] shapes; k has nKvHeads * head size = 8 outputs
      expect(tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([3, d]);
      expect(tensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight')!.shape).toEqual([8, 3]);
      expect(tensors.get('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight')!.shape).toEqual([3, 24]);
      expect(tensors.size).toBe(2 * 7 * 2);
    } else {
      expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).toEqual([3 * d, 3]);
      expect(tensors.get('base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight')!.shape).toEqual([3, 4 * d]);
      expect(tensors.size).toBe(2 * 4 * 2); // c_proj selects attn.c_proj and mlp.c_proj
    }
    // the stored A is the transpose of the native a [in, r]
    const firstA = [...tensors.entries()].find(([k]) => k.includes('.0.') && k.endsWith('lora_A.weight'))!;
    const native = Object.entries(adapter.weights).find(([n]) => n.startsWith('layers.0.') && n.endsWith('lora_a'))![1];
    expect(maxAbsDiff(tf.tensor2d(firstA[1].data as Float32Array, firstA[1].shape as [number, number]), tf.transpose(native))).toBe(0);

    const fresh = CausalLM.create(TINY[arch], { seed: 8 });
    LoraAdapter.load(dir, fresh);
    expect(maxAbsDiff(fresh.forward(ids()).logits, adapted)).toBe(0);
    fresh.dispose();
    model.dispose();
    adapted.dispose();
  });
});

test('bad targets and adapter files are refused with the field named', () => {
  const model = CausalLM.create(TINY.gpt2);
  expect(() => LoraAdapter.attach(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] }, { where: 'student.lora' }))
    .toThrow('student.lora: target module "q_proj" matches no gpt2 projection; valid names: c_attn, c_proj, c_fc');
  expect(() => LoraAdapter.attach(model, { rank: 0, alpha: 4, dropout: 0, targetModules: ['c_attn'] }, { where: 'student.lora' }))
    .toThrow('student.lora: field "rank" must be a positive integer, got 0');
  expect(model.adapter).toBeUndefined();
  expect(() => LoraAdapter.load(join(root, 'missing'), model)).toThrow(/adapter_config.json does not exist/);
  model.dispose();
});

test('the base view and a frozen copy keep the memory settings, so RL\'s reference scores as the policy does', () => {
  const model = CausalLM.create(TINY.llama, { seed: 2 });
  LoraAdapter.attach(model, loraConfig('llama'), { seed: 3 });
  model.gradientCheckpointing = true;
  model.logitChunkRows = 4;
  for (const other of [model.withoutAdapter(), model.clone()]) {
    expect(other.gradientCheckpointing).toBe(true);
    expect(other.logitChunkRows).toBe(4);
    expect(other.ops).toBe(model.ops);
    expect(other.adapter).toBeUndefined();
    other.dispose();
  }
  model.dispose();
});

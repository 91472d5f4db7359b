import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../../lib/model/config';
import type { WeightArrays } from '../../lib/model/causal-lm';
import type { LoraAdapter } from '../../lib/model/lora';
import type { StudentModel } from '../../lib/model/student';
import type { AdamW } from '../../lib/train/adamw';
import { readSafetensors } from '../../lib/model/safetensors';

/** Tiny configs of both layouts used across the model tests (llama with grouped-query attention). */
export const TINY: Record<'gpt2' | 'llama', ModelConfig> = {
  gpt2: { arch: 'gpt2', vocabSize: 23, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 24 },
  llama: { arch: 'llama', vocabSize: 23, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, maxSeqLen: 24 },
};

/** Largest absolute difference between two tensors' values. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

/** Deterministic pseudo-random token ids in [lo, vocab). */
export function tokenRows(batch: number, length: number, vocab: number, seed: number, lo = 3): number[][] {
  let s = seed;
  return Array.from({ length: batch }, () =>
    Array.from({ length }, () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return lo + (s % (vocab - lo));
    }),
  );
}

/**
 * d loss / d t of loss(v + t direction) at t = 0, by Richardson extrapolation of central differences:
 * (4 D(h) - D(2h)) / 3 cancels the O(h^2) error of D(h) = (loss(v + h direction) - loss(v - h direction)) / 2h.
 * `v` is restored afterwards.
 */
export function directionalDerivative(loss: () => tf.Scalar, v: tf.Variable, direction: tf.Tensor, h = 1e-2): number {
  const central = (step: number): number => {
    const saved = v.clone();
    const at = (t: number) => tf.tidy(() => {
      v.assign(tf.add(saved, tf.mul(direction, t)));
      return loss().dataSync()[0];
    });
    const quotient = (at(step) - at(-step)) / (2 * step);
    v.assign(saved);
    saved.dispose();
    return quotient;
  };
  return (4 * central(h) - central(2 * h)) / 3;
}

/** Gives an adapter's B matrices (zero when attached) random values, so the adapted model differs from its base. */
export function randomizeB(adapter: LoraAdapter, seed: number, std = 0.3): void {
  for (const [name, v] of Object.entries(adapter.weights)) {
    if (name.endsWith('lora_b')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, std, 'float32', seed++)));
  }
}

/** Saves an adapter to `dir` and reads back the two files PEFT reads: adapter_config.json and the tensors by name. */
export async function savedAdapter(adapter: LoraAdapter, dir: string, base: string): Promise<{ config: Record<string, unknown>; tensors: ReturnType<typeof readSafetensors> }> {
  await adapter.save(dir, base);
  return {
    config: JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>,
    tensors: readSafetensors(join(dir, 'adapter_model.safetensors')),
  };
}

/**
 * Six training steps with a LoRA adapter attached: no tensor leaks after the second, the loss falls, the base
 * weights (`before`, from `toArrays()` before the adapter was attached) stay as they were, and the optimizer
 * holds moments for the adapter's matrices only.
 */
export async function expectOnlyAdapterTrains(
  step: () => Promise<number>,
  model: StudentModel,
  before: WeightArrays,
  optimizer: AdamW,
  adapter: LoraAdapter,
): Promise<void> {
  const losses: number[] = [];
  let tensors = 0;
  for (let i = 0; i < 6; i++) {
    losses.push(await step());
    if (i === 1) tensors = tf.memory().numTensors;
    if (i > 1) expect(tf.memory().numTensors).toBe(tensors);
  }
  expect(losses[5]).toBeLessThan(losses[0]);
  const after = await model.toArrays();
  for (const [name, { data }] of before) expect(after.get(name)!.data).toEqual(data);
  const state = await optimizer.getState();
  expect([...state.slots.keys()].sort()).toEqual(Object.keys(adapter.weights).flatMap((n) => [`m.${n}`, `v.${n}`]).sort());
}

/** The parts of an optimizer step that every trainer shares: gradient accumulation over micro-batches and the update. */
import * as tf from '@tensorflow/tfjs';
import type { AdamW } from './adamw';
import { clipByGlobalNorm } from './clip';
import { warmupCosine, type WarmupCosineOptions } from './schedule';

/**
 * `previous` + one micro-batch's `grads` (keyed by variable id, renamed through `variableNames`); disposes `grads`
 * and `previous` and returns the new sums.
 */
export function accumulateGrads(previous: Record<string, tf.Tensor>, grads: tf.NamedTensorMap, variableNames: Map<string, string>): Record<string, tf.Tensor> {
  const accumulated = tf.tidy(() =>
    Object.fromEntries(Object.entries(grads).map(([id, g]) => {
      const name = variableNames.get(id)!;
      return [name, previous[name] ? tf.add(previous[name], g) : tf.clone(g)];
    })),
  );
  tf.dispose([...Object.values(grads), ...Object.values(previous)]);
  return accumulated;
}

/**
 * One AdamW update from the accumulated gradients, clipped to a global norm of `maxGradNorm`, at the schedule's
 * learning rate for the optimizer's step; disposes the gradients and returns the learning rate and the norm before
 * clipping.
 */
export async function applyUpdate(optimizer: AdamW, accumulated: Record<string, tf.Tensor>, schedule: WarmupCosineOptions, maxGradNorm: number): Promise<{ lr: number; gradNorm: number }> {
  const lr = warmupCosine(optimizer.step, schedule);
  const norm = tf.tidy(() => {
    const clipped = clipByGlobalNorm(accumulated, maxGradNorm);
    optimizer.apply(clipped.grads, lr);
    return clipped.norm;
  });
  const gradNorm = (await norm.data())[0];
  tf.dispose([norm, ...Object.values(accumulated)]);
  return { lr, gradNorm };
}

/** The parts of an optimizer step that every trainer shares: gradient accumulation over micro-batches and the update. */
import * as tf from '@tensorflow/tfjs';
import { withAdapterTraining } from '../model/lora';
import type { StudentModel } from '../model/student';
import type { AdamW } from './adamw';
import { trainingKernels } from '../wasm-threads';
import { globalNormScale } from './clip';
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
  const norm = trainingKernels(() => tf.tidy(() => {
    const { norm, scale } = globalNormScale(accumulated, maxGradNorm);
    optimizer.apply(accumulated, lr, scale);
    return norm;
  }));
  const gradNorm = (await norm.data())[0];
  tf.dispose([norm, ...Object.values(accumulated)]);
  return { lr, gradNorm };
}

/** One micro-batch of a step: its share of the batch's target weight, and its loss (built inside the gradient tape). */
export interface MicroBatch {
  share: number;
  loss: () => tf.Scalar;
}

/**
 * One optimizer step over micro-batches: each loss, scaled by its share, is differentiated with the model's adapter
 * (if any) in training mode and the gradients summed (micro-batches with share 0 are skipped), then
 * {@link applyUpdate}. The returned loss is the sum of the scaled losses: the whole batch's weighted mean.
 */
export async function microBatchStep(
  model: StudentModel, trainable: Record<string, tf.Variable>, variableNames: Map<string, string>, optimizer: AdamW,
  options: { schedule: WarmupCosineOptions; maxGradNorm?: number }, microBatches: Iterable<MicroBatch>,
): Promise<{ loss: number; gradNorm: number; lr: number }> {
  const variables = Object.values(trainable);
  let accumulated: Record<string, tf.Tensor> = {};
  let loss = 0;
  for (const { share, loss: microLoss } of microBatches) {
    if (share === 0) continue;
    const { value, grads } = trainingKernels(() => withAdapterTraining(model, () => tf.variableGrads(() => tf.mul(microLoss(), share) as tf.Scalar, variables)));
    loss += (await value.data())[0];
    value.dispose();
    accumulated = trainingKernels(() => accumulateGrads(accumulated, grads, variableNames));
  }
  const { lr, gradNorm } = await applyUpdate(optimizer, accumulated, options.schedule, options.maxGradNorm ?? 1);
  return { loss, gradNorm, lr };
}

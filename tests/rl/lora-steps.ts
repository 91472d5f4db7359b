/** Shared check for RL with a LoRA policy: the reference is the frozen base, and steps neither leak nor drift from it at first. */
import * as tf from '@tensorflow/tfjs';
import type { Example } from '../../lib/data/types';
import type { PPOTrainer } from '../../lib/rl';

/**
 * Asserts the reference is a view of the policy's weights without the adapter, then runs four steps: the first's KL
 * is 0 (B = 0, so the policy starts as the reference) and the tensor count is steady from the second on.
 */
export async function expectLoraStepsLeakFree(trainer: PPOTrainer, policyWeights: unknown, examples: Example[]): Promise<void> {
  expect(trainer.reference.weights).toBe(policyWeights); // a view: no second copy
  expect(trainer.reference.adapter).toBeUndefined();
  let tensors = 0;
  for (let i = 0; i < 4; i++) {
    const { stats } = await trainer.step(examples);
    if (i === 0) expect(stats.kl).toBeCloseTo(0, 6);
    if (i === 1) tensors = tf.memory().numTensors;
    if (i > 1) expect(tf.memory().numTensors).toBe(tensors);
  }
}

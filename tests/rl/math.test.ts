import * as tf from '@tensorflow/tfjs';
import {
  AdaptiveKLController, FixedKLController, RunningMoments, clippedPolicyLoss, clippedValueLoss, entropyFromLogits,
  explainedVariance, flatGroupShare, gae, grpoAdvantages, klPenalty, perTokenKL, rlooAdvantages, scaleAndClipScores, shapedRewards, whiten,
} from '../../lib/rl';

const close = (actual: number[], expected: number[], digits = 5) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
};
const scalar = (t: tf.Scalar) => t.dataSync()[0];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('GAE', () => {
  test('matches a hand-computed reverse scan (γ = 0.9, λ = 0.8)', () => {
    // t=2: δ = 1 − 0.7 = 0.3;  t=1: δ = 0.9·0.7 − 0.6 = 0.03, A = 0.03 + 0.72·0.3;  t=0: δ = 0.9·0.6 − 0.5 = 0.04, A = 0.04 + 0.72·0.246
    const { advantages, returns } = gae([[0, 0, 1]], [[0.5, 0.6, 0.7]], [[1, 1, 1]], 0.9, 0.8);
    close(advantages[0], [0.21712, 0.246, 0.3]);
    close(returns[0], [0.71712, 0.846, 1.0]);
  });

  test('a padded tail is skipped: the episode ends on the last real token', () => {
    const { advantages, returns } = gae([[0, 2, 0]], [[1, 0.5, 9]], [[1, 1, 0]], 0.9, 0.8);
    close(advantages[0], [0.53, 1.5, 0]);
    close(returns[0], [1.53, 2, 0]);
  });

  test('with γ = λ = 1 and zero values, advantages are the rewards to go', () => {
    const { advantages } = gae([[1, 2, 3, 0]], [[0, 0, 0, 0]], [[1, 1, 1, 0]], 1, 1);
    close(advantages[0], [6, 5, 3, 0]);
  });

  test('shape mismatch is an error naming the row', () => {
    expect(() => gae([[0, 1]], [[0, 0, 0]], [[1, 1]], 1, 1)).toThrow(/row 0 has 3 steps/);
  });
});

test('whitening uses the masked mean and variance only', () => {
  // entries 1, 2, 3: mean 2, variance 2/3
  const out = whiten([[1, 2], [3, 100]], [[1, 1], [1, 0]]);
  close(out.flat(), [-1 / Math.sqrt(2 / 3), 0, 1 / Math.sqrt(2 / 3), 0]);
  const unshifted = whiten([[1, 2], [3, 100]], [[1, 1], [1, 0]], false);
  close(unshifted.flat(), [2 - 1 / Math.sqrt(2 / 3), 2, 2 + 1 / Math.sqrt(2 / 3), 0]);
});

describe('KL penalty', () => {
  test('k1 and k3 per-token estimates', () => {
    const logp = [[-1, -2, -5]];
    const ref = [[-1.5, -1, -3]];
    const mask = [[1, 1, 0]];
    close(perTokenKL(logp, ref, mask, 'k1')[0], [0.5, -1, 0]);
    close(perTokenKL(logp, ref, mask, 'k3')[0], [Math.exp(-0.5) - 1 + 0.5, Math.E - 2, 0]);
  });

  test('shaped rewards: −β·KL on every token and the score on the last real one', () => {
    close(shapedRewards([3], [[0.5, -1, 0]], [[1, 1, 0]], 0.1)[0], [-0.05, 3.1, 0]);
  });

  test('adaptive controller raises β above the target KL, lowers it below, with the clipped error', () => {
    const up = new AdaptiveKLController(0.1, 6, 10000);
    up.update(12, 100); // e = clip(1, ±0.2) = 0.2
    expect(up.value).toBeCloseTo(0.1 * (1 + (0.2 * 100) / 10000), 10);
    const down = new AdaptiveKLController(0.1, 6, 10000);
    down.update(3, 100); // e = clip(−0.5) = −0.2
    expect(down.value).toBeCloseTo(0.1 * (1 - (0.2 * 100) / 10000), 10);
    const small = new AdaptiveKLController(0.1, 6, 10000);
    small.update(6.6, 100); // e = 0.1, inside the clip
    expect(small.value).toBeCloseTo(0.1 * (1 + (0.1 * 100) / 10000), 10);
    for (let i = 0; i < 50; i++) up.update(12, 1000);
    expect(up.value).toBeGreaterThan(0.2);
    const fixed = new FixedKLController(0.1);
    fixed.update();
    expect(fixed.value).toBe(0.1);
  });
});

describe('PPO losses', () => {
  test('clipped policy loss, clip fraction and approx-KL by hand', () => {
    tf.tidy(() => {
      const logp = tf.tensor2d([[Math.log(1.5), Math.log(0.5), Math.log(1.1)]]);
      const old = tf.zeros([1, 3]);
      const adv = tf.tensor2d([[1, -1, 2]]);
      const { loss, clipFraction, approxKL } = clippedPolicyLoss(logp, old, adv, tf.ones([1, 3]), 0.2);
      // token 0: max(−1.5, −1.2) = −1.2 (clipped); token 1: max(0.5, 0.8) = 0.8 (clipped); token 2: −2.2 (inside)
      expect(scalar(loss)).toBeCloseTo(-2.6 / 3, 5);
      expect(scalar(clipFraction)).toBeCloseTo(2 / 3, 5);
      const k3 = [1.5, 0.5, 1.1].map((r) => r - 1 - Math.log(r));
      expect(scalar(approxKL)).toBeCloseTo(k3.reduce((a, b) => a + b) / 3, 5);
      const masked = clippedPolicyLoss(logp, old, adv, tf.tensor2d([[1, 1, 0]]), 0.2);
      expect(scalar(masked.loss)).toBeCloseTo(-0.2, 5);
    });
  });

  test('policy-loss gradient matches finite differences and points along the advantage', () => {
    const adv = tf.tensor2d([[1.5, -0.5, 0.25]]);
    const old = tf.tensor2d([[-1, -2, -0.5]]);
    const mask = tf.tensor2d([[1, 1, 1]]);
    const base = [-0.95, -2.05, -0.5];
    const lossAt = (x: number[]) => tf.tidy(() => scalar(clippedPolicyLoss(tf.tensor2d([x]), old, adv, mask, 0.2).loss));
    const grad = tf.tidy(() => tf.grad((x: tf.Tensor) => clippedPolicyLoss(x, old, adv, mask, 0.2).loss)(tf.tensor2d([base])).arraySync() as number[][]);
    const h = 1e-3;
    base.forEach((_, i) => {
      const plus = [...base]; plus[i] += h;
      const minus = [...base]; minus[i] -= h;
      expect(grad[0][i]).toBeCloseTo((lossAt(plus) - lossAt(minus)) / (2 * h), 3);
    });
    expect(grad[0][0]).toBeLessThan(0); // descending the loss raises logp where A > 0
    expect(grad[0][1]).toBeGreaterThan(0);
    tf.dispose([adv, old, mask]);
  });

  test('GRPO KL penalty: k3 by hand, zero at the reference, gradient d/dlogp = 1 − π_ref/π', () => {
    const logp = [-1, -2, -0.5];
    const ref = [-1.5, -2, 0];
    const mask = tf.tensor2d([[1, 1, 0]]);
    const refT = tf.tensor2d([ref]);
    const k3 = (x: number, r: number) => Math.exp(r - x) - (r - x) - 1;
    expect(tf.tidy(() => scalar(klPenalty(tf.tensor2d([logp]), refT, mask)))).toBeCloseTo((k3(-1, -1.5) + k3(-2, -2)) / 2, 6);
    expect(tf.tidy(() => scalar(klPenalty(refT, refT, mask)))).toBe(0);
    const grad = tf.tidy(() => tf.grad((x: tf.Tensor) => klPenalty(x, refT, mask))(tf.tensor2d([logp])).arraySync() as number[][]);
    close(grad[0], [(1 - Math.exp(-0.5)) / 2, 0, 0], 5);
    tf.dispose([mask, refT]);
  });

  test('clipped value loss by hand', () => {
    tf.tidy(() => {
      const { loss, clipFraction } = clippedValueLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[0.5, 0.5]]), tf.tensor2d([[2, 0.4]]), tf.ones([1, 2]), 0.2);
      // t0: V_clip = 0.7, max(1, 1.69) = 1.69 (clipped); t1: V_clip = 0.3, max(0.16, 0.01) = 0.16
      expect(scalar(loss)).toBeCloseTo(0.5 * (1.69 + 0.16) / 2, 5);
      expect(scalar(clipFraction)).toBeCloseTo(0.5, 5);
    });
  });

  test('entropy from logits', () => {
    tf.tidy(() => {
      const logits = tf.tensor3d([[[0, 0, 0, 0], [0, Math.log(3), -1e9, -1e9]]]);
      close(Array.from(entropyFromLogits(logits).dataSync()), [Math.log(4), -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75))]);
    });
  });

  test('no tensors leak from the losses', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        const x = tf.randomNormal([2, 5]);
        clippedPolicyLoss(x, tf.zeros([2, 5]), tf.ones([2, 5]), tf.ones([2, 5]), 0.2);
        clippedValueLoss(x, tf.zeros([2, 5]), tf.ones([2, 5]), tf.ones([2, 5]), 0.2);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('critic-free baselines', () => {
  test('RLOO: each sample against the mean of the other k − 1', () => {
    close(rlooAdvantages([1, 0, 0, 3, 3, 0], 3), [1, -0.5, -0.5, 1.5, 1.5, -3]);
    expect(() => rlooAdvantages([1, 2, 3], 2)).toThrow(/whole number of groups/);
    expect(() => rlooAdvantages([1, 2], 1)).toThrow(/k >= 2/);
  });

  test('GRPO: normalised within the group by the sample std', () => {
    const s = Math.sqrt(1 / 3); // sample std of 1, 0, 0
    close(grpoAdvantages([1, 0, 0, 2, 2, 2], 3), [(2 / 3) / s, -(1 / 3) / s, -(1 / 3) / s, 0, 0, 0], 4);
  });

  test('flat groups: the share of groups whose valid scores are all equal (no GRPO/RLOO signal)', () => {
    // groups [1 0 0] varied, [2 2 2] flat, [5 NaN 5] flat once the invalid row is left out, [3 x x] one valid row: skipped
    const valid = [true, true, true, true, true, true, true, false, true, true, false, false];
    expect(flatGroupShare([1, 0, 0, 2, 2, 2, 5, Number.NaN, 5, 3, 0, 0], valid, 3)).toBeCloseTo(2 / 3, 12);
    expect(flatGroupShare([1, 2], [true, true], 1)).toBeNaN();
  });
});

test('explained variance', () => {
  const mask = [[1, 1, 1]];
  expect(explainedVariance([[1, 2, 3]], [[1, 2, 3]], mask)).toBeCloseTo(1);
  expect(explainedVariance([[0, 0, 0]], [[1, 2, 3]], mask)).toBeCloseTo(0);
  expect(explainedVariance([[3, 2, 1]], [[1, 2, 3]], mask)).toBeCloseTo(1 - 8 / 3 / (2 / 3));
});

test('running moments merge batches exactly and scale/clip scores', () => {
  const moments = new RunningMoments();
  moments.update([1, 2, 3]);
  moments.update([4, 5]);
  expect(moments.mean).toBeCloseTo(3, 10);
  expect(moments.variance).toBeCloseTo(2, 10);
  const fresh = new RunningMoments();
  close(scaleAndClipScores([2, -2, 10], 'none', fresh, 5), [2, -2, 5]);
  expect(fresh.count).toBe(0);
  const scaled = scaleAndClipScores([1, 3], 'running-std', fresh); // std of {1, 3} = 1
  close(scaled, [1, 3]);
  close(scaleAndClipScores([0, 6], 'running-std', fresh, 2), [0, 2]); // std of {1,3,0,6} = sqrt(5.25)
});

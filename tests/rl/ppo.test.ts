/**
 * PPO end to end on a toy task with a verifiable reward: a tiny random GPT writes 12 characters after a prompt;
 * the reward is the share of the letter "a" in them. The test fails if the update's sign or the advantages are wrong.
 */
import * as tf from '@tensorflow/tfjs';
import type { Example } from '../../lib/data/types';
import { CausalLM } from '../../lib/model/causal-lm';
import { initBackend } from '../../lib/backend';
import { PPOTrainer, type PPOConfigInput } from '../../lib/rl';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { CompositeReward, defineReward, registerReward } from '../../rewards';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?#']);
const shareOfA = defineReward({
  name: 'toy-share-of-a',
  score: async (batch) => batch.map(({ rationale }) => (rationale.length ? [...rationale].filter((ch) => ch === 'a').length / rationale.length : 0)),
});
registerReward(shareOfA.name, shareOfA);
const examples: Example[] = ['xyz', 'zyx', 'yzx', 'xzy'].map((q, i) => ({ id: `toy/${i}`, question: q, answers: [''], answerType: 'text' }));
const toyConfig: PPOConfigInput = {
  maxNewTokens: 10, samplesPerPrompt: 4, minibatchSize: 16, ppoEpochs: 2, learningRate: 5e-3, stop: [],
  kl: { coef: 0.01, horizon: 10000 }, gamma: 1, lambda: 0.95, entropyCoef: 0,
};

function tinyModel(seed: number): CausalLM {
  return CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 24 }, { seed });
}

/** KL(π‖π_ref) of the next-token distributions, averaged over the positions of fixed texts (exact, no sampling). */
function exactKL(policy: CausalLM, reference: CausalLM): number {
  return tf.tidy(() => {
    const ids = tf.tensor2d(['xyz?abcdefgh', 'zyx?hgfedcba'].map((t) => tokenizer.encode(t)), undefined, 'int32');
    const logP = tf.logSoftmax(policy.forward(ids).logits);
    const logQ = tf.logSoftmax(reference.forward(ids).logits);
    return tf.mean(tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1)).dataSync()[0];
  });
}

async function meanReward(trainer: PPOTrainer): Promise<number> {
  const scored = await trainer.score(await trainer.rollout(examples));
  return scored.scores.reduce((a, b) => a + b, 0) / scored.scores.length;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe.each(['ppo', 'rloo', 'grpo'] as const)('%s on the toy task', (algorithm) => {
  test('raises the mean reward within 12 iterations, without leaking tensors', async () => {
    const policy = tinyModel(3);
    const reward = new CompositeReward({ weights: { 'toy-share-of-a': 1 } });
    const trainer = new PPOTrainer({ policy, tokenizer, reward, seed: 1, config: { ...toyConfig, algorithm }, promptOf: (e) => `${e.question}?` });
    const before = await meanReward(trainer);
    let tensors = 0;
    let last = 0;
    const history: number[] = [];
    for (let i = 0; i < 12; i++) {
      const { stats } = await trainer.step(examples);
      history.push(stats.rewards.total.mean);
      if (i === 1) tensors = tf.memory().numTensors;
      if (i > 1) expect(tf.memory().numTensors).toBe(tensors);
      last = stats.rewards.total.mean;
      expect(stats.rewards['toy-share-of-a'].mean).toBeCloseTo(stats.rewards.total.mean, 10);
      for (const key of ['kl', 'entropy', 'clipFraction', 'approxKL', 'gradNorm', 'tokensPerSecond'] as const) expect(Number.isFinite(stats[key])).toBe(true);
      if (algorithm === 'ppo') expect(Number.isFinite(stats.valueLoss) && stats.valueLoss > 0).toBe(true);
    }
    const after = await meanReward(trainer);
    // chance is 1/vocab of the sampled letters; after training "a" should dominate
    expect(before).toBeLessThan(0.2);
    expect(after).toBeGreaterThan(0.4);
    expect(last).toBeGreaterThan(history[0]);
    trainer.dispose();
    policy.dispose();
  });
});

test('first-epoch ratio is exactly 1: rollout log-probs match the training forward', async () => {
  const policy = tinyModel(5);
  const trainer = new PPOTrainer({ policy, tokenizer, reward: new CompositeReward({ weights: { 'toy-share-of-a': 1 } }), config: { ...toyConfig, ppoEpochs: 1, learningRate: 1e-12 }, promptOf: (e) => `${e.question}?` });
  const { stats } = await trainer.step(examples);
  expect(stats.clipFraction).toBe(0);
  expect(Math.abs(stats.approxKL)).toBeLessThan(1e-6);
  expect(stats.kl).toBeCloseTo(0, 5); // the reference is the starting policy
  trainer.dispose();
  policy.dispose();
});

test('GRPO: equal scores give zero advantages whatever the KL; the KL term in the loss pulls the policy back to the reference', async () => {
  const zero = defineReward({ name: 'toy-zero', score: async (batch) => batch.map(() => 0) });
  registerReward(zero.name, zero);
  const reference = tinyModel(7);
  const klAfter = async (coef: number) => {
    // The reference with its final norm's gain ×8: far sharper next-token distributions, so KL(π‖π_ref) is large.
    const policy = tinyModel(7); // the reference's weights
    policy.weights['ln_f.g'].assign(tf.mul(policy.weights['ln_f.g'], 8));
    const trainer = new PPOTrainer({
      policy, reference, tokenizer, reward: new CompositeReward({ weights: { 'toy-zero': 1 } }), seed: 2, promptOf: (e) => `${e.question}?`,
      config: { ...toyConfig, algorithm: 'grpo', learningRate: 1e-2, kl: { coef, horizon: 10000 } },
    });
    const before = exactKL(policy, reference);
    const first = await trainer.step(examples);
    expect(first.advantages.flat().every((a) => a === 0)).toBe(true);
    for (let i = 0; i < 9; i++) await trainer.step(examples);
    const after = exactKL(policy, reference);
    trainer.dispose();
    policy.dispose();
    return { before, after };
  };
  const pulled = await klAfter(1);
  expect(pulled.before).toBeGreaterThan(0.5);
  expect(pulled.after).toBeLessThan(pulled.before / 3);
  const free = await klAfter(0); // no KL term and no advantages: nothing pulls it back
  expect(free.after).toBeGreaterThan(free.before * 0.9);
  reference.dispose();
});

/**
 * PPO end to end on a toy task with a verifiable reward: a tiny random GPT writes 12 characters after a prompt;
 * the reward is the share of the letter "a" in them. The test fails if the update's sign or the advantages are wrong.
 */
import * as tf from '@tensorflow/tfjs';
import type { Example } from '../../lib/data/types';
import { CausalLM } from '../../lib/model/causal-lm';
import { initBackend } from '../../lib/backend';
import { PPOTrainer, type PPOConfig } from '../../lib/rl';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { CompositeReward, defineReward, registerReward } from '../../rewards';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?#']);
const shareOfA = defineReward({
  name: 'toy-share-of-a',
  score: async (batch) => batch.map(({ rationale }) => (rationale.length ? [...rationale].filter((ch) => ch === 'a').length / rationale.length : 0)),
});
registerReward(shareOfA.name, shareOfA);
const examples: Example[] = ['xyz', 'zyx', 'yzx', 'xzy'].map((q, i) => ({ id: `toy/${i}`, question: q, answers: [''], answerType: 'text' }));
const toyConfig: Partial<PPOConfig> = {
  maxNewTokens: 10, samplesPerPrompt: 4, minibatchSize: 16, ppoEpochs: 2, learningRate: 5e-3, stop: [],
  kl: { coef: 0.01, horizon: 10000 }, gamma: 1, lambda: 0.95, entropyCoef: 0,
};

function tinyModel(seed: number): CausalLM {
  return CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 24 }, { seed });
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

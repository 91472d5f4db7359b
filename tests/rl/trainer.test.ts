/**
 * The PPO trainer's bookkeeping: checkpoint/resume through real files, NaN guards, samples a reward could not score.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import type { Example } from '../../lib/data/types';
import { CausalLM } from '../../lib/model/causal-lm';
import { loadCheckpoint, saveCheckpoint } from '../../lib/model/checkpoint';
import { PPOTrainer, type PPOConfigInput, type PPOTrainerState } from '../../lib/rl';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { CompositeReward, defineReward, registerReward } from '../../rewards';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?']);
const examples: Example[] = ['xyz', 'zyx'].map((q, i) => ({ id: `toy/${i}`, question: q, answers: [''], answerType: 'text' }));
const config: PPOConfigInput = { maxNewTokens: 6, samplesPerPrompt: 2, minibatchSize: 4, learningRate: 1e-2, stop: [], kl: { coef: 0.1, target: 1, horizon: 100 } };
const promptOf = (e: Example) => `${e.question}?`;
const countB = defineReward({ name: 'toy-count-b', score: async (batch) => batch.map(({ rationale }) => [...rationale].filter((c) => c === 'b').length) });
// Fails (NaN) for the second sample of every batch: the composite must drop it under onError 'skip'.
const flaky = defineReward({ name: 'toy-flaky', score: async (batch) => batch.map((_, i) => (i === 1 ? Number.NaN : 0)) });
registerReward(countB.name, countB);
registerReward(flaky.name, flaky);

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-ppo-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tiny = () => CausalLM.create({ arch: 'llama', vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 16 }, { seed: 7 });

test('state() / loadState() through a checkpoint: the resumed run repeats the uninterrupted one', async () => {
  const reward = new CompositeReward({ weights: { 'toy-count-b': 1 } });
  const policy = tiny();
  const startDir = join(root, 'start');
  await saveCheckpoint(startDir, { model: policy, tokenizer });
  const trainer = new PPOTrainer({ policy, tokenizer, reward, config, seed: 4, promptOf });
  await trainer.step(examples);
  await trainer.step(examples);
  const resumeDir = join(root, 'iteration-2');
  await saveCheckpoint(resumeDir, { model: policy, tokenizer, optimizer: trainer.optimizer, extra: { ppo: trainer.state() } });
  const straight = await trainer.step(examples);
  expect(trainer.state().iteration).toBe(3);
  expect(trainer.state().klCoef).not.toBe(0.1); // the adaptive controller moved β

  const start = await loadCheckpoint(startDir);
  const saved = await loadCheckpoint(resumeDir);
  const resumed = new PPOTrainer({ policy: saved.model, reference: start.model, tokenizer, reward, config, seed: 999, promptOf });
  resumed.loadState(saved.extra!.ppo as PPOTrainerState, saved.optimizerState, resumeDir);
  const again = await resumed.step(examples);
  expect(again.stats.iteration).toBe(3);
  expect(again.stats.klCoef).toBeCloseTo(straight.stats.klCoef, 12);
  expect(again.stats.rewards.total.mean).toBe(straight.stats.rewards.total.mean);
  expect(again.stats.kl).toBeCloseTo(straight.stats.kl, 5);
  expect(again.stats.policyLoss).toBeCloseTo(straight.stats.policyLoss, 5);
  expect(again.stats.valueLoss).toBeCloseTo(straight.stats.valueLoss, 5);
  expect(() => resumed.loadState({ iteration: 'x' } as unknown as PPOTrainerState)).toThrow('PPO trainer state: field "iteration" must be a number');
  for (const t of [trainer, resumed]) t.dispose();
  for (const m of [policy, start.model, saved.model]) m.dispose();
});

test('rollout rows: prompt then response tokens, masks aligned with the sampled text', async () => {
  const policy = tiny();
  const trainer = new PPOTrainer({ policy, tokenizer, reward: new CompositeReward({ weights: { 'toy-count-b': 1 } }), config, promptOf });
  const rollout = await trainer.rollout(examples);
  expect(rollout.examples.map((e) => e.id)).toEqual(['toy/0', 'toy/0', 'toy/1', 'toy/1']);
  rollout.ids.forEach((row, b) => {
    const prompt = tokenizer.encode(rollout.prompts[b], { addBos: true });
    expect(row.slice(0, prompt.length)).toEqual(prompt);
    // responseMask[t] marks the prediction of ids[t + 1]
    const response = row.filter((_, t) => t > 0 && rollout.responseMask[b][t - 1] === 1);
    expect(response).toHaveLength(rollout.responseLengths[b]);
    expect(tokenizer.decode(response, { skipSpecial: true }).trim()).toBe(rollout.rationales[b]);
    expect(rollout.attentionMask[b].reduce((a, m) => a + m, 0)).toBe(prompt.length + response.length);
    rollout.logprobs[b].forEach((lp, t) => expect(rollout.responseMask[b][t] ? lp < 0 : lp === 0).toBe(true));
  });
  trainer.dispose();
  policy.dispose();
});

test('samples a reward module could not score are left out and counted', async () => {
  const policy = tiny();
  const reward = new CompositeReward({ weights: { 'toy-count-b': 1, 'toy-flaky': 1 }, onError: 'skip' });
  const trainer = new PPOTrainer({ policy, tokenizer, reward, config, promptOf });
  const scored = await trainer.score(await trainer.rollout(examples));
  expect(scored.valid).toEqual([true, false, true, true]);
  const { stats, advantages } = await trainer.update(scored);
  expect(stats.invalidSamples).toBe(1);
  expect(advantages[1].every((a) => a === 0)).toBe(true);
  expect(Number.isFinite(stats.policyLoss)).toBe(true);
  trainer.dispose();
  policy.dispose();
});

test('NaN in the policy stops the rollout and names where it appeared', async () => {
  const policy = tiny();
  const trainer = new PPOTrainer({ policy, tokenizer, reward: new CompositeReward({ weights: { 'toy-count-b': 1 } }), config, promptOf });
  const embedding = policy.weights.tok_emb;
  tf.tidy(() => embedding.assign(tf.mul(embedding, Number.NaN)));
  await expect(trainer.rollout(examples)).rejects.toThrow(/rollout: policy log-prob is NaN at row 0, position \d+/);
  trainer.dispose();
  policy.dispose();
});

test('config errors name the field', () => {
  const policy = tiny();
  const reward = new CompositeReward({ weights: { 'toy-count-b': 1 } });
  expect(() => new PPOTrainer({ policy, tokenizer, reward, config: { algorithm: 'rloo', samplesPerPrompt: 1 } }))
    .toThrow('PPO config: samplesPerPrompt: algorithm "rloo" needs samplesPerPrompt >= 2, got 1');
  expect(() => new PPOTrainer({ policy, tokenizer, reward, config: { lambda: 1.5 } })).toThrow('PPO config: lambda: Too big: expected number to be <=1');
  expect(() => new PPOTrainer({ policy, tokenizer, reward, config: { kl: { estimator: 'k2' as 'k1' } } })).toThrow('PPO config: kl.estimator: Invalid option');
  policy.dispose();
});

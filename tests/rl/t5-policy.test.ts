/**
 * RL over a T5 student's decoder tokens: the rollout's per-token log-probs against an independent per-row
 * t5TargetLogProbs and against the sampler's own, then PPO, RLOO and GRPO steps (and GRPO with LoRA) leak-free.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import type { Example } from '../../lib/data/types';
import { LoraAdapter } from '../../lib/model/lora';
import { T5Model } from '../../lib/model/t5';
import type { T5Config } from '../../lib/model/t5-config';
import { t5Generate } from '../../lib/model/t5-generate';
import { t5TargetLogProbs } from '../../lib/model/t5-logprobs';
import { PPOTrainer } from '../../lib/rl';
import { collectRollout } from '../../lib/rl/rollout';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { expectLoraStepsLeakFree } from './lora-steps';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?#']);
const CONFIG: T5Config = { arch: 't5', vocabSize: tokenizer.vocabSize, dModel: 16, dKv: 6, nHeads: 2, dFF: 24, nLayers: 1, nDecoderLayers: 2, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24 };
/** A score that differs between almost any two rationales, so every group has advantages to learn from. */
const charSum = { name: 'char-sum', score: async (batch: { rationale: string }[]) => batch.map(({ rationale }) => ([...rationale].reduce((s, c) => s + c.charCodeAt(0), 0) % 11) / 11) };
const examples: Example[] = ['xyz', 'zyxxy'].map((q, i) => ({ id: `toy/${i}`, question: q, answers: [''], answerType: 'text' }));
const promptOf = (e: Example) => `${e.question}?`;

beforeAll(async () => {
  await initBackend('wasm');
});

test('rollout log-probs of a T5 policy equal t5TargetLogProbs per row and the sampler\'s own (temperature 1)', async () => {
  const model = T5Model.create(CONFIG, { seed: 4 });
  const rollout = await collectRollout(model, model, tokenizer, examples, 3, promptOf,
    { maxNewTokens: 7, temperature: 1, stop: [], seed: 9, chunkSize: 4, withValues: true });
  const prompts = rollout.prompts;
  const sampled = await t5Generate(model, tokenizer, prompts, { maxNewTokens: 7, temperature: 1, seed: 9, returnLogprobs: true });
  for (let b = 0; b < prompts.length; b++) {
    const response = sampled[b].tokenIds;
    expect(rollout.ids[b].slice(1, 1 + response.length)).toEqual(response);
    const positions = rollout.responseMask[b].flatMap((m, t) => (m ? [t] : []));
    expect(positions).toEqual(response.map((_, t) => t)); // decoder position t predicts response token t
    const fromRollout = positions.map((t) => rollout.logprobs[b][t]);
    const alone = tf.tidy(() => t5TargetLogProbs(model, tf.tensor2d([tokenizer.encode(prompts[b], { addEos: true })], undefined, 'int32'),
      tf.ones([1, tokenizer.encode(prompts[b], { addEos: true }).length], 'int32') as tf.Tensor2D, tf.tensor2d([response], undefined, 'int32')).arraySync()[0]);
    fromRollout.forEach((value, t) => {
      expect(value).toBeCloseTo(alone[t], 5);
      expect(value).toBeCloseTo(sampled[b].logprobs![t], 4); // cached decoding against one full pass
    });
    expect(rollout.refLogprobs[b]).toEqual(rollout.logprobs[b]); // the reference is the policy itself here
  }
  model.dispose();
});

test.each(['ppo', 'rloo', 'grpo'] as const)('%s steps on a T5 policy train its weights without leaking tensors', async (algorithm) => {
  const policy = T5Model.create(CONFIG, { seed: 5 });
  const before = await policy.toArrays();
  const trainer = new PPOTrainer({
    policy, tokenizer, reward: charSum, seed: 2, promptOf,
    config: { algorithm, maxNewTokens: 6, samplesPerPrompt: 2, minibatchSize: 4, ppoEpochs: 1, learningRate: 5e-3, stop: [], kl: { coef: 0.05, horizon: 10000 } },
  });
  let tensors = 0;
  for (let i = 0; i < 4; i++) {
    const { stats } = await trainer.step(examples);
    if (i === 0) expect(stats.kl).toBeCloseTo(0, 6); // the reference is a frozen copy of the starting policy
    expect(Number.isFinite(stats.policyLoss)).toBe(true);
    if (i === 1) tensors = tf.memory().numTensors;
    if (i > 1) expect(tf.memory().numTensors).toBe(tensors);
  }
  const after = await policy.toArrays();
  const moved = (name: string) => after.get(name)!.data.some((x, i) => x !== before.get(name)!.data[i]);
  expect(moved('decoder.layers.1.self.wq')).toBe(true);
  expect(moved('encoder.layers.0.ff.w_gate')).toBe(true);
  expect(moved('value_head.w')).toBe(algorithm === 'ppo');
  trainer.dispose();
  policy.dispose();
});

test('GRPO with LoRA on a T5 policy: only the adapters train, the base view is the reference', async () => {
  const policy = T5Model.create(CONFIG, { seed: 6 });
  const base = await policy.toArrays();
  const adapter = LoraAdapter.attach(policy, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q', 'v', 'wo'] }, { seed: 1 });
  const trainer = new PPOTrainer({
    policy, tokenizer, reward: charSum, seed: 2, promptOf,
    config: { algorithm: 'grpo', maxNewTokens: 6, samplesPerPrompt: 2, minibatchSize: 4, ppoEpochs: 1, learningRate: 5e-3, stop: [], kl: { coef: 0.05, horizon: 10000 } },
  });
  await expectLoraStepsLeakFree(trainer, policy.weights, examples);
  const after = await policy.toArrays();
  for (const [name, { data }] of base) expect(after.get(name)!.data).toEqual(data);
  const b = adapter.weights['decoder.layers.0.cross.wv.lora_b'].dataSync();
  expect(b.some((x) => x !== 0)).toBe(true);
  trainer.dispose();
  policy.dispose();
});

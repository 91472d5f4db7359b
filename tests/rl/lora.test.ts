/** PPO (value head included) and GRPO with a LoRA policy: adapters train, the base is the reference and stays as it is. */
import type { Example } from '../../lib/data/types';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { LoraAdapter } from '../../lib/model/lora';
import { PPOTrainer } from '../../lib/rl';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { expectLoraStepsLeakFree } from './lora-steps';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?#']);
const shareOfA = { name: 'share-of-a', score: async (batch: { rationale: string }[]) => batch.map(({ rationale }) => [...rationale].filter((c) => c === 'a').length / Math.max(1, rationale.length)) };
const examples: Example[] = ['xyz', 'zyx'].map((q, i) => ({ id: `toy/${i}`, question: q, answers: [''], answerType: 'text' }));

beforeAll(async () => {
  await initBackend('wasm');
});

test.each(['ppo', 'grpo'] as const)('%s with LoRA: only the adapter (and value head) change, the base view is the reference, no leak', async (algorithm) => {
  const policy = CausalLM.create({ arch: 'llama', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, maxSeqLen: 24 }, { seed: 3 });
  const base = await policy.toArrays();
  const adapter = LoraAdapter.attach(policy, { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'] }, { seed: 1 });
  const trainer = new PPOTrainer({
    policy, tokenizer, reward: shareOfA, seed: 1, promptOf: (e) => `${e.question}?`,
    config: { algorithm, maxNewTokens: 8, samplesPerPrompt: 4, minibatchSize: 8, ppoEpochs: 1, learningRate: 5e-3, stop: [], kl: { coef: 0.05, horizon: 10000 } },
  });
  const adapterBefore = Object.fromEntries(Object.entries(adapter.weights).map(([n, v]) => [n, v.dataSync().slice()]));
  await expectLoraStepsLeakFree(trainer, policy.weights, examples);
  const after = await policy.toArrays();
  for (const [name, { data }] of base) {
    if (name.startsWith('value_head')) continue;
    expect(after.get(name)!.data).toEqual(data);
  }
  const moved = Object.entries(adapter.weights).filter(([n, v]) => n.endsWith('lora_b') && v.dataSync().some((x, i) => x !== adapterBefore[n][i]));
  expect(moved.length).toBeGreaterThan(0);
  const valueHeadMoved = after.get('value_head.w')!.data.some((x, i) => x !== base.get('value_head.w')!.data[i]);
  expect(valueHeadMoved).toBe(algorithm === 'ppo');
  const slots = [...(await trainer.optimizer.getState()).slots.keys()];
  expect(slots.every((k) => /lora_[ab]$/.test(k) || (algorithm === 'ppo' && k.includes('value_head')))).toBe(true);
  trainer.dispose();
  policy.dispose();
});

test.each(['ppo', 'grpo'] as const)('%s with LoRA, recomputed blocks and chunked logits: the same rollouts, statistics and adapters as the plain path', async (algorithm) => {
  const run = async (saving: boolean) => {
    const policy = CausalLM.create({ arch: 'qwen2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, maxSeqLen: 24, tieEmbeddings: true }, { seed: 3 });
    const adapter = LoraAdapter.attach(policy, { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'] }, { seed: 1 });
    policy.gradientCheckpointing = saving;
    policy.logitChunkRows = saving ? 7 : 0;
    const trainer = new PPOTrainer({
      policy, tokenizer, reward: shareOfA, seed: 1, promptOf: (e) => `${e.question}?`,
      config: { algorithm, maxNewTokens: 8, samplesPerPrompt: 4, minibatchSize: 4, ppoEpochs: 2, learningRate: 5e-3, stop: [], entropyCoef: 0.01, kl: { coef: 0.05, horizon: 10000 } },
    });
    const stats = [];
    for (let i = 0; i < 2; i++) stats.push((await trainer.step(examples)).stats);
    const weights = Object.values(adapter.weights).map((v) => Array.from(v.dataSync()));
    trainer.dispose();
    policy.dispose();
    return { stats, weights };
  };
  const plain = await run(false);
  const saving = await run(true);
  for (let i = 0; i < 2; i++) {
    for (const key of ['policyLoss', 'entropy', 'approxKL', 'gradNorm', 'valueLoss'] as const) {
      expect(Math.abs(saving.stats[i][key] - plain.stats[i][key])).toBeLessThan(1e-4 * (1 + Math.abs(plain.stats[i][key])));
    }
    expect(saving.stats[i].rationaleTokens).toBe(plain.stats[i].rationaleTokens);
  }
  const worst = Math.max(...saving.weights.flatMap((w, i) => w.map((x, j) => Math.abs(x - plain.weights[i][j]))));
  expect(worst).toBeLessThan(1e-5);
});

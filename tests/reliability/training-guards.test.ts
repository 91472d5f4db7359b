/**
 * Training guards: a NaN/Inf in the loss, gradients, rewards or advantages stops the step with an error naming where,
 * no update is applied past it, and the last good checkpoint stays on disk; a failing reward module is named and
 * handled per onError.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import type { Example } from '../../lib/data/types';
import { iterationMetrics } from '../../lib/experiment/stages/rl';
import { setConsoleLevel } from '../../lib/log/logger';
import { CausalLM, loadCheckpoint, saveCheckpoint } from '../../lib/model';
import { PPOTrainer, type PPOConfigInput } from '../../lib/rl';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { distill, type DistillState } from '../../lib/train/distill';
import { encodeTrainingText, type EncodedText } from '../../lib/train/formats';
import { Trainer } from '../../lib/train/trainer';
import { CompositeReward, defineReward, registerReward } from '../../rewards';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?-> ']);
const tiny = () => CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 24 }, { seed: 3 });
const rows: EncodedText[] = ['abc', 'bca', 'cab', 'hgf', 'fgh', 'ghf', 'abh', 'hba']
  .map((w) => encodeTrainingText(tokenizer, { prompt: `${w}?`, target: ` ${w} -> ${w[2]}`, weight: 1 }, 24));
const distillOptions = { epochs: 2, batchSize: 2, evalEvery: 99, maxNewTokens: 4, format: 'fine-tune-cot' as const, seed: 1, checkpointEvery: 2 };
const allFinite = (model: CausalLM) => Object.values(model.weights).every((w) => w.dataSync().every(Number.isFinite));

beforeAll(async () => {
  setConsoleLevel('error');
  await initBackend('wasm');
});

describe('distillation', () => {
  /** Train until `poison` runs after step `at`; returns the error and the resume point left on disk. */
  async function runPoisoned(at: number, poison: (model: CausalLM) => void) {
    const dir = mkdtempSync(join(tmpdir(), 'rrl-guard-distill-'));
    const model = tiny();
    const trainer = new Trainer(model, { schedule: { peakLr: 1e-2, warmupSteps: 0, totalSteps: 8 } });
    const error = await distill(trainer, tokenizer, rows, [], distillOptions, {
      onStep: ({ step }) => { if (step === at) poison(model); },
      checkpoint: (state: DistillState, kind) => saveCheckpoint(join(dir, kind), { model, tokenizer, optimizer: trainer.optimizer, extra: { distill: state } }),
    }).then(() => undefined, (e: Error) => e);
    trainer.dispose();
    model.dispose();
    const last = await loadCheckpoint(join(dir, 'last'));
    const kept = { step: (last.extra!.distill as DistillState).step, finite: allFinite(last.model) };
    last.model.dispose();
    return { error, kept };
  }

  test('a NaN weight stops the next step, naming step, loss and gradient norm; the last good checkpoint is kept', async () => {
    const { error, kept } = await runPoisoned(3, (model) => {
      const w = model.weights[Object.keys(model.weights)[0]];
      tf.tidy(() => w.assign(tf.fill(w.shape, Number.NaN)));
    });
    expect(error?.message).toBe('distillation step 3: loss NaN, gradient norm NaN (not finite); the last good checkpoint is kept');
    expect(kept).toEqual({ step: 2, finite: true }); // saved every 2 steps: step 2 is the last good one
  });

  test('a poisoned batch (an infinite loss weight) stops at the first step that draws it', async () => {
    const poisoned = rows.map((r, i) => (i === 5 ? { ...r, targetMask: r.targetMask.map((m) => m * Infinity) } : r));
    const dir = mkdtempSync(join(tmpdir(), 'rrl-guard-batch-'));
    const model = tiny();
    const trainer = new Trainer(model, { schedule: { peakLr: 1e-2, warmupSteps: 0, totalSteps: 8 } });
    const steps: number[] = [];
    const run = distill(trainer, tokenizer, poisoned, [], distillOptions, {
      onStep: ({ step }) => steps.push(step),
      checkpoint: (state, kind) => saveCheckpoint(join(dir, kind), { model, tokenizer, extra: { distill: state } }),
    });
    await expect(run).rejects.toThrow(/^distillation step \d+: loss (NaN|Infinity), gradient norm (NaN|Infinity) \(not finite\)/);
    expect(steps.length).toBeLessThan(4); // row 5 is in the first epoch's batches
    trainer.dispose();
    model.dispose();
  });
});

describe('PPO', () => {
  const examples: Example[] = ['xyz', 'zyx'].map((q, i) => ({ id: `guard/${i}`, question: q, answers: [''], answerType: 'text' }));
  const config: PPOConfigInput = { maxNewTokens: 5, samplesPerPrompt: 2, minibatchSize: 4, learningRate: 1e-2, stop: [], kl: { coef: 0.1, horizon: 10_000 } };
  const promptOf = (e: Example) => `${e.question}?`;
  const ones = defineReward({ name: 'guard-ones', score: async (batch) => batch.map(() => 1) });
  const throws = defineReward({ name: 'guard-throws', score: async () => { throw new Error('judge unreachable'); } });
  const hangs = defineReward({ name: 'guard-hangs', score: () => new Promise<number[]>(() => {}) });
  const infinite = defineReward({ name: 'guard-infinite', score: async (batch) => batch.map((_, i) => (i === 2 ? Infinity : 0)) });
  for (const r of [ones, throws, hangs, infinite]) registerReward(r.name, r);
  const snapshot = (model: CausalLM) => Object.values(model.weights).map((w) => Array.from(w.dataSync()));

  async function withTrainer(reward: CompositeReward | typeof ones, body: (trainer: PPOTrainer, policy: CausalLM) => Promise<void>) {
    const policy = tiny();
    const trainer = new PPOTrainer({ policy, tokenizer, reward, config, seed: 2, promptOf });
    try {
      await body(trainer, policy);
    } finally {
      trainer.dispose();
      policy.dispose();
    }
  }

  test('an infinite reward from a plain module stops the step, naming the module and sample', async () => {
    await withTrainer(infinite, async (trainer) => {
      await expect(trainer.step(examples)).rejects.toThrow('reward "guard-infinite" gave Infinity for sample 2');
    });
  });

  test('a NaN advantage stops the update, naming it, before any weight moves', async () => {
    await withTrainer(new CompositeReward({ weights: { 'guard-ones': 1 } }), async (trainer, policy) => {
      const scored = await trainer.score(await trainer.rollout(examples));
      const t = scored.responseMask[1].indexOf(1);
      scored.values[1][t] = Number.NaN; // the critic's estimate feeds GAE: advantages and returns become NaN
      const before = snapshot(policy);
      const tensors = tf.memory().numTensors;
      await expect(trainer.update(scored)).rejects.toThrow(/^PPO update: advantage is NaN at row \d+, position \d+/); // whitening spreads it to every row
      expect(snapshot(policy)).toEqual(before);
      expect(trainer.iteration).toBe(0);
      expect(tf.memory().numTensors).toBe(tensors);
    });
  });

  test('a throwing or hanging module fails the run by name under onError "fail"', async () => {
    for (const [name, message] of [['guard-throws', 'judge unreachable'], ['guard-hangs', 'timed out after 0.2 s']]) {
      const reward = new CompositeReward({ weights: { 'guard-ones': 1, [name]: 1 }, onError: 'fail', timeoutSeconds: 0.2 });
      await withTrainer(reward, async (trainer) => {
        await expect(trainer.step(examples)).rejects.toThrow(`reward "${name}" failed: ${message}`);
      });
    }
  });

  test('under onError "skip" the failing module is reported by name in the stats and metrics, never scored 0', async () => {
    const reward = new CompositeReward({ weights: { 'guard-ones': 1, 'guard-infinite': 1 }, onError: 'skip' });
    await withTrainer(reward, async (trainer) => {
      const { stats } = await trainer.step(examples);
      expect(stats.invalidSamples).toBe(1);
      expect(stats.rewardFailures).toEqual({ 'guard-infinite': { samples: 1, message: 'reward "guard-infinite" gave Infinity for sample 2' } });
      expect(stats.rewards.total.mean).toBe(1); // the three valid samples score 1 + 0; the bad one is out, not 0
      expect(iterationMetrics(stats)['rewardFailures/guard-infinite']).toBe(1);
    });
  });
});

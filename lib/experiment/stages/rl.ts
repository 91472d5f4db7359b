import { existsSync } from 'node:fs';
import { writeJsonl } from '../../data/jsonl';
import type { Example } from '../../data/types';
import { logger } from '../../log/logger';
import type { MetricsRecord } from '../../log/metrics';
import { startProgress } from '../../log/progress';
import { loadStudentCheckpoint, saveCheckpoint, type OptimizerState } from '../../model/checkpoint';
import type { Student } from '../../model/student';
import { LoraAdapter } from '../../model/lora';
import type { PPOConfig } from '../../rl/config';
import { PPOTrainer, type IterationStats, type PPOTrainerState } from '../../rl/ppo';
import type { ExperimentConfig } from '../schema';
import { Random } from '../../random';
import { chatPrompt, rationalePrompt } from '../../train/formats';
import { RunInterrupted, type StageContext, type StageResult } from '../runner';
import { loadRLPrompts } from '../../data/experiment-data';
import { readMetrics } from '../../log/metrics';
import { readSplit } from './data';
import { buildReward, openJudge } from './judge';
import { applyStudentMemorySettings, attachStudentLora, checkStudentMemory, studentChat, studentLora } from './student';

/**
 * The prompts of iteration `iteration`: consecutive slices of a seeded shuffle of the RL questions, reshuffled on
 * each pass, so a resumed run sees the same questions.
 */
export function iterationExamples(questions: Example[], batchSize: number, seed: number, iteration: number): Example[] {
  const perPass = Math.max(1, Math.floor(questions.length / batchSize));
  const pass = Math.floor(iteration / perPass);
  const order = new Random(seed * 7919 + pass).shuffle(questions);
  const start = (iteration % perPass) * batchSize;
  return order.slice(start, start + batchSize);
}

/** The trainer's settings: an experiment's rl section less the loop around the trainer (one schema defines both). */
export function trainerSettings(rl: ExperimentConfig['rl']): PPOConfig {
  const { prompts: _prompts, iterations: _iterations, batchSize: _batchSize, checkpointEvery: _checkpointEvery, ...trainer } = rl;
  return trainer;
}

/** One metrics line per iteration: every statistic, reward components as `reward/<name>/mean|std`, `flatGroups/<name>`. */
export function iterationMetrics(stats: IterationStats): MetricsRecord {
  const { rewards, timings, iteration, rewardFailures, flatGroups, ...scalars } = stats;
  const record: MetricsRecord = { stage: 'rl', step: iteration };
  for (const [name, share] of Object.entries(flatGroups)) if (Number.isFinite(share)) record[`flatGroups/${name}`] = share;
  for (const [name, { samples }] of Object.entries(rewardFailures)) record[`rewardFailures/${name}`] = samples;
  for (const [name, { mean, std }] of Object.entries(rewards)) {
    record[`reward/${name}/mean`] = mean;
    record[`reward/${name}/std`] = std;
  }
  for (const [name, value] of Object.entries({ ...scalars, ...timings })) if (typeof value === 'number') record[name] = value;
  return record;
}

/**
 * The RL stage: refine the distilled student with PPO (or RLOO/GRPO) against the composite reward and the frozen
 * judge. The reference is the distilled student; `rl/last` is the resume point (every `checkpointEvery`
 * iterations), `rl/final` the refined student. With `student.lora`, a distilled adapter is merged into the
 * weights first, fresh adapters train on top, and the weights without them are the reference (one copy).
 */
export async function rlStage(context: StageContext): Promise<StageResult> {
  const { config, dir, metrics, signal } = context;
  const rl = config.rl;
  const { prompts, dropped } = loadRLPrompts(config, readSplit(context));
  if (rl.prompts.kind !== 'train') {
    writeJsonl(`${dir}/prompts.jsonl`, prompts);
    logger.info(`${prompts.length} ${rl.prompts.kind} prompts (${dropped} dropped: already in the data split), in ${dir}/prompts.jsonl`, { stage: 'rl' });
  }
  const start = context.outputsOf('distill').best;
  const lastDir = `${dir}/last`;
  const distilled = await loadStudentCheckpoint(start);
  const tokenizer = distilled.tokenizer;
  let policy: Student = distilled.model;
  if (policy.adapter instanceof LoraAdapter) policy.adapter.mergeIntoModel(policy); // the distilled student, one set of weights
  const lora = studentLora(config, policy) !== undefined;
  // Full fine-tuning keeps a frozen copy; under LoRA the policy without its adapter is the reference (made below).
  const frozenCopy = lora ? undefined : policy.clone();
  let state: PPOTrainerState | undefined;
  let optimizerState: OptimizerState | undefined;
  if (context.resume && existsSync(lastDir)) {
    policy.dispose();
    const loaded = await loadStudentCheckpoint(lastDir);
    ({ model: policy, optimizerState } = loaded);
    state = loaded.extra?.ppo as PPOTrainerState | undefined;
    logger.info(`resuming at iteration ${(state?.iteration ?? 0) + 1}`, { stage: 'rl' });
  }
  attachStudentLora(config, policy);
  applyStudentMemorySettings(config, policy);
  if (frozenCopy) applyStudentMemorySettings(config, frozenCopy); // the reference scores with the same chunks
  checkStudentMemory('rl', config, policy, {
    microBatch: rl.minibatchSize, seqLen: policy.config.maxSeqLen, sampleBatch: rl.minibatchSize, sampleLen: policy.config.maxSeqLen, referenceCopy: !lora,
  });
  // The distilled student, frozen: RL's reference and, for a `student-copy` judge, the judge.
  const reference = frozenCopy ?? policy.withoutAdapter();
  const reward = buildReward(context); // before the judge's connection: its modules' setup (natural's load) blocks for a moment
  const judge = await openJudge(context, { model: reference, tokenizer });
  const chat = studentChat(config, tokenizer);
  const promptOf = (example: Example) => {
    const prompt = rationalePrompt(example, config.distill.format);
    return chat ? chatPrompt(prompt, tokenizer) : prompt;
  };
  const trainer = new PPOTrainer({
    policy, reference, tokenizer, reward, judge: judge.judge, seed: config.seed,
    promptOf, config: trainerSettings(rl), totalIterations: rl.iterations,
  });
  if (state) trainer.loadState(state, optimizerState, lastDir);
  const checkpoint = (to: string) => saveCheckpoint(to, { model: policy, tokenizer, optimizer: trainer.optimizer, extra: { ppo: trainer.state() } });
  const progress = startProgress('rl', rl.iterations, { unit: 'iteration' });
  try {
    while (trainer.iteration < rl.iterations) {
      if (signal.aborted) {
        await checkpoint(lastDir);
        throw new RunInterrupted(`RL stopped after iteration ${trainer.iteration}; checkpoint in ${lastDir}`);
      }
      const { stats } = await trainer.step(iterationExamples(prompts, rl.batchSize, config.seed, trainer.iteration));
      metrics.write(iterationMetrics(stats));
      for (const [name, failure] of Object.entries(stats.rewardFailures)) {
        logger.warn(`iteration ${stats.iteration}: reward "${name}" could not score ${failure.samples} samples, left out of the update (${failure.message})`, { stage: 'rl' });
      }
      progress.update(trainer.iteration, { reward: stats.rewards.total?.mean ?? Number.NaN, kl: stats.kl, ...(stats.judgeAccuracy === undefined ? {} : { judge: stats.judgeAccuracy }) });
      if (trainer.iteration % rl.checkpointEvery === 0) await checkpoint(lastDir);
    }
    progress.stop();
    await saveCheckpoint(`${dir}/final`, { model: policy, tokenizer });
    // From the metrics file, so a resumed run's summary covers the iterations done before the interruption too.
    const rows = readMetrics(context.run.path('metrics.jsonl')).filter((r) => r.stage === 'rl');
    const window = Math.max(1, Math.floor(rows.length / 5));
    const mean = (field: string, part: MetricsRecord[]) => {
      const values = part.map((r) => r[field]).filter((v): v is number => typeof v === 'number');
      return values.length ? Math.round((values.reduce((x, y) => x + y, 0) / values.length) * 1000) / 1000 : 'n/a';
    };
    const [first, last] = [rows.slice(0, window), rows.slice(-window)];
    return {
      outputs: { final: 'rl/final', last: 'rl/last', ...(rl.prompts.kind === 'train' ? {} : { prompts: 'rl/prompts.jsonl' }) },
      summary: {
        iterations: trainer.iteration, prompts: prompts.length,
        rewardFirst: mean('reward/total/mean', first), rewardLast: mean('reward/total/mean', last),
        judgeAccuracyFirst: mean('judgeAccuracy', first), judgeAccuracyLast: mean('judgeAccuracy', last),
        klLast: mean('kl', last),
      },
    };
  } finally {
    trainer.dispose();
    policy.dispose();
    frozenCopy?.dispose();
    judge.dispose();
  }
}

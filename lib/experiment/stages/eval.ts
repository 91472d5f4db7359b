import { existsSync } from 'node:fs';
import { readRationales } from '../../data/rationales';
import type { Example } from '../../data/types';
import { writeJsonAtomic } from '../../fs';
import { rationaleQuality } from '../../eval/quality';
import type { ConditionResult, SampleRow } from '../../eval/report';
import type { Judge } from '../../eval/judge';
import { compareAllPairs, type PairedComparison } from '../../eval/stats';
import { logger } from '../../log/logger';
import { startProgress } from '../../log/progress';
import { loadCheckpoint } from '../../model/checkpoint';
import { predictWithStudent } from '../../eval/predict';
import type { CompositeReward } from '../../reward/composite';
import type { StageContext, StageResult } from '../runner';
import { readSplit } from './data';
import { buildReward, openJudge } from './judge';
import { studentChat } from './student';

/** What the evaluation writes to `eval/results.json`. */
export interface EvalResults {
  /** The held-out questions scored, in the order of each condition's `correct`. */
  questionIds: string[];
  conditions: ConditionResult[];
  /** Every pair of conditions on the same questions: accuracy difference, paired bootstrap 95% interval, McNemar p. */
  comparisons: PairedComparison[];
  samples: SampleRow[];
}

/** A condition's rationale for each example ('' when it has none). */
type Rationales = Map<string, string>;

/** Mean of each reward component and of the total over a condition's rationales. */
async function meanRewards(reward: CompositeReward, judge: Judge, examples: Example[], rationales: Rationales): Promise<Record<string, number>> {
  const scores = await reward.scoreAll(examples.map((example) => ({ example, rationale: rationales.get(example.id) ?? '' })), { judge });
  const mean = (values: number[]) => {
    const finite = values.filter(Number.isFinite);
    return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN;
  };
  return { total: mean(scores.total), ...Object.fromEntries(Object.entries(scores.components).map(([name, values]) => [name, mean(values)])) };
}

/** Greedy rationales of a student checkpoint for each example. */
async function studentRationales(dir: string, examples: Example[], context: StageContext): Promise<Rationales> {
  const { model, tokenizer } = await loadCheckpoint(dir);
  try {
    const predictions = await predictWithStudent(model, tokenizer, examples, {
      format: context.config.distill.format, maxNewTokens: context.config.distill.maxNewTokens, chat: studentChat(context.config, tokenizer),
    });
    return new Map(predictions.map((p) => [p.exampleId, p.rationale]));
  } finally {
    model.dispose();
  }
}

/**
 * The evaluation stage (LM-guided CoT): on the held-out split, the frozen judge answers each question without a
 * rationale, from the teacher's rationale, from the distilled student's and from the RL student's. For each
 * condition: judge accuracy, mean reward components, rationale length and repetition rate; plus sample rows.
 */
export async function evalStage(context: StageContext): Promise<StageResult> {
  const { config, dir } = context;
  let { test } = readSplit(context);
  if (config.eval.limit !== undefined) test = test.slice(0, config.eval.limit);
  const judge = await openJudge(context);
  const reward = buildReward(context);
  const sources: Record<string, () => Promise<Rationales | undefined>> = {
    'no-rationale': async () => new Map(test.map((e) => [e.id, ''])),
    teacher: async () => {
      const byExample: Rationales = new Map();
      for (const r of readRationales(context.outputsOf('teacher').rationales)) if (!byExample.has(r.exampleId)) byExample.set(r.exampleId, r.rationale);
      return byExample;
    },
    distilled: async () => studentRationales(context.outputsOf('distill').best, test, context),
    rl: async () => {
      const final = context.outputsOf('rl').final;
      return final && existsSync(final) ? studentRationales(final, test, context) : undefined;
    },
  };
  const conditions: ConditionResult[] = [];
  const samples: SampleRow[] = test.slice(0, config.eval.samples)
    .map((e) => ({ exampleId: e.id, question: e.question, gold: e.answers[0], byCondition: {} }));
  const progress = startProgress('eval', config.eval.conditions.length, { unit: 'condition' });
  try {
    for (const [index, condition] of config.eval.conditions.entries()) {
      const rationales = await sources[condition]();
      if (!rationales) {
        logger.warn(`condition "${condition}" skipped: no ${condition} student in this run`, { stage: 'eval' });
        continue;
      }
      const answers = await judge.judge.answerAll(test, rationales);
      const written = test.map((e) => rationales.get(e.id) ?? '');
      conditions.push({
        condition, n: test.length,
        accuracy: answers.filter((a) => a.correct).length / Math.max(test.length, 1),
        correct: answers.map((a) => a.correct),
        rewards: condition === 'no-rationale' ? undefined : await meanRewards(reward, judge.judge, test, rationales),
        ...(condition === 'no-rationale' ? {} : rationaleQuality(written)),
      });
      samples.forEach((row, i) => { row.byCondition[condition] = { rationale: written[i], ...answers[i] }; });
      progress.update(index + 1, { [condition]: conditions[conditions.length - 1].accuracy });
    }
  } finally {
    progress.stop();
    judge.dispose();
  }
  const comparisons = compareAllPairs(conditions.map((c) => ({ condition: c.condition, correct: c.correct ?? [] })), { seed: config.seed });
  const results: EvalResults = { questionIds: test.map((e) => e.id), conditions, comparisons, samples };
  writeJsonAtomic(`${dir}/results.json`, results);
  return {
    outputs: { results: 'eval/results.json' },
    summary: Object.fromEntries(conditions.map((c) => [`accuracy:${c.condition}`, Math.round(c.accuracy * 1000) / 1000])),
  };
}

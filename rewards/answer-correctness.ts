/**
 * `answer-correctness`: the task reward of LM-Guided CoT. A frozen judge LLM reads the question (+ context) and
 * the rationale and writes an answer; the reward is the dataset's score of that answer against gold
 * (`scoreGeneration` of lib/data: number, choice, yes/no or exact match), so 1 or 0 for most datasets.
 * The default prompt is the Fine-tune-CoT reader prompt (`question ### rationale -->`), which a distilled student
 * (or a frozen copy of it) answers directly; `template` may replace it, with `{question}` and `{rationale}`.
 */
import { scoreGeneration } from '../lib/data/answers';
import type { Example } from '../lib/data/types';
import { answerPrompt, questionText } from '../lib/train/formats';
import { defineReward } from '../lib/reward/define';

/** The prompt the judge answers: `template` filled in, or the Fine-tune-CoT reader prompt when it is empty. */
export function judgePrompt(example: Example, rationale: string, template: string): string {
  if (template === '') return answerPrompt(example, rationale);
  return template.replace(/\{question\}/g, questionText(example)).replace(/\{rationale\}/g, rationale.trim());
}

export default defineReward({
  name: 'answer-correctness',
  description: "a frozen judge answers from the question and rationale; the dataset's score of its answer",
  needsJudge: true,
  defaults: { template: '', maxTokens: 16, stop: ['\n'] as string[] },
  async score(batch, { judge, signal }, { template, maxTokens, stop }) {
    return Promise.all(batch.map(async ({ example, rationale }) => {
      signal?.throwIfAborted();
      const result = await judge!.complete({ prompt: judgePrompt(example, rationale, template), maxTokens, temperature: 0, stop });
      return scoreGeneration(result.choices[0]?.text ?? '', example);
    }));
  },
});

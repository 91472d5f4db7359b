/**
 * `answer-correctness`: the task reward of LM-Guided CoT. The frozen judge reads the question (+ context) and the
 * rationale and writes an answer; the reward is the dataset's score of that answer against gold (number, choice,
 * yes/no or exact match), so 1 or 0 for most datasets. The prompt and answer length are the judge's settings (an
 * experiment's `judge.template` / `judge.maxTokens`), the same ones evaluation uses.
 */
import { asJudge } from '../lib/eval/judge';
import { defineReward } from '../lib/reward/define';

export default defineReward({
  name: 'answer-correctness',
  description: "a frozen judge answers from the question and rationale; the dataset's score of its answer",
  needsJudge: true,
  async score(batch, { judge, signal }) {
    const asker = asJudge(judge!);
    return Promise.all(batch.map(async ({ example, rationale }) => (await asker.answer(example, rationale, signal)).score));
  },
});

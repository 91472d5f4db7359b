/**
 * The student's own reasoning on held-out questions: greedy rationale and answer, parsed and scored. Used by
 * distillation (test accuracy per epoch), the eval stage and `rrl generate` / `rrl eval`.
 */
import { parseAnswer, scoreAnswer } from '../data/answers';
import type { Example } from '../data/types';
import type { CausalLM } from '../model/causal-lm';
import { generate } from '../model/sampling';
import type { Tokenizer } from '../tokenizer/types';
import { answerFromGeneration, answerTaskPrompt, chatPrompt, rationalePrompt, type TargetFormat } from '../train/formats';

/** The student's own reasoning on one question: its rationale, its answer, and whether the answer is right. */
export interface StudentPrediction {
  exampleId: string;
  rationale: string;
  answer: string;
  correct: boolean;
}

/**
 * Greedy rationale and answer of the student for each example (batched). For `mt-re`, whose explain task writes no
 * answer, the answer comes from the `[answer]` task. With `chat`, prompts are rendered by the student's chat
 * template ({@link chatPrompt}).
 */
export async function predictWithStudent(
  model: CausalLM, tokenizer: Tokenizer, examples: readonly Example[],
  options: { format: TargetFormat; maxNewTokens: number; batchSize?: number; chat?: boolean },
): Promise<StudentPrediction[]> {
  const batchSize = options.batchSize ?? 32;
  const prompt = (text: string) => (options.chat ? chatPrompt(text, tokenizer) : text);
  const out: StudentPrediction[] = [];
  for (let start = 0; start < examples.length; start += batchSize) {
    const batch = examples.slice(start, start + batchSize);
    const generations = await generate(model, tokenizer, batch.map((e) => prompt(rationalePrompt(e, options.format))),
      { maxNewTokens: options.maxNewTokens, greedy: true, addBos: tokenizer.addsBos });
    let parsed = generations.map((g) => answerFromGeneration(g.text));
    if (options.format === 'mt-re') {
      const answers = await generate(model, tokenizer, batch.map((e) => prompt(answerTaskPrompt(e))),
        { maxNewTokens: 32, greedy: true, addBos: tokenizer.addsBos });
      parsed = parsed.map((p, i) => ({ rationale: p.rationale, answer: answers[i].text.trim() }));
    }
    batch.forEach((example, i) => {
      const answer = parseAnswer(parsed[i].answer, example.answerType, { choices: example.choices });
      out.push({ exampleId: example.id, rationale: parsed[i].rationale, answer, correct: scoreAnswer(answer, example) === 1 });
    });
  }
  return out;
}

/** Share of correct predictions. */
export function accuracy(predictions: readonly StudentPrediction[]): number {
  return predictions.length === 0 ? 0 : predictions.filter((p) => p.correct).length / predictions.length;
}

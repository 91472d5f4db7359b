/**
 * The judge of LM-guided CoT: a frozen LLM reads the question (+ context) and a rationale and writes the answer,
 * which the dataset's rule scores against gold. One place builds the prompt, asks and scores, so the
 * answer-correctness reward (RL), the eval stage, `rrl eval` and the RL statistics all ask the same question the
 * same way: the experiment's `judge` settings.
 */
import { parseAnswer, scoreAnswer } from '../data/answers';
import type { Example } from '../data/types';
import { judgeSettingsSchema, type JudgeSettings } from '../experiment/schema';
import type { ChatRequest, CompletionRequest, CompletionResult, LLMClient } from '../llm/types';
import { answerPrompt, questionText } from '../train/formats';

/** The judge's answer to one question from one rationale. */
export interface JudgedAnswer {
  /** What the judge wrote. */
  text: string;
  /** The answer parsed from it with the example's answer type. */
  answer: string;
  /** The dataset's score of that answer against gold (1 or 0 for most datasets). */
  score: number;
  correct: boolean;
}

/** The judge stops its answer at the end of the line. */
const ANSWER_STOP = ['\n'];

/**
 * A frozen LLM asked for answers with fixed settings. Also an {@link LLMClient} (calls pass through), so reward
 * modules with their own prompts (e.g. `aspects`) use the same model. Counts its answers, for the RL statistics.
 */
export class Judge implements LLMClient {
  readonly settings: JudgeSettings;
  /** Answers given so far, and how many were correct. */
  readonly tally = { answered: 0, correct: 0 };

  constructor(readonly client: LLMClient, settings: Partial<JudgeSettings> = {}) {
    this.settings = judgeSettingsSchema.parse(settings);
  }

  get model(): string {
    return this.client.model;
  }

  /** The prompt the judge answers: the template filled in, or the Fine-tune-CoT reader prompt when it is empty. */
  prompt(example: Example, rationale: string): string {
    if (this.settings.template === '') return answerPrompt(example, rationale);
    return this.settings.template.replace(/\{question\}/g, questionText(example)).replace(/\{rationale\}/g, rationale.trim());
  }

  /** Ask for the answer to `example` from `rationale` (greedy), parse and score it. */
  async answer(example: Example, rationale: string, signal?: AbortSignal): Promise<JudgedAnswer> {
    signal?.throwIfAborted();
    const result = await this.client.complete({ prompt: this.prompt(example, rationale), maxTokens: this.settings.maxTokens, temperature: 0, stop: ANSWER_STOP });
    const text = result.choices[0]?.text ?? '';
    const answer = parseAnswer(text, example.answerType, { choices: example.choices });
    const score = scoreAnswer(answer, example);
    this.tally.answered += 1;
    if (score === 1) this.tally.correct += 1;
    return { text, answer, score, correct: score === 1 };
  }

  /** Answers to each example from its rationale ('' when `rationales` has none), concurrently. */
  answerAll(examples: Example[], rationales: Map<string, string>): Promise<JudgedAnswer[]> {
    return Promise.all(examples.map((example) => this.answer(example, rationales.get(example.id) ?? '')));
  }

  complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.client.complete(request);
  }

  chat(request: ChatRequest): Promise<CompletionResult> {
    return this.client.chat(request);
  }
}

/** `client` as a {@link Judge}: itself when it is one, else asked with the default settings. */
export function asJudge(client: LLMClient): Judge {
  return client instanceof Judge ? client : new Judge(client);
}

import type { Example } from '../../../lib/data/types';
import type { ChatRequest, CompletionRequest, CompletionResult, LLMClient } from '../../../lib/llm/types';

/**
 * A stand-in for a large teacher LLM on sums ("What is 3 + 4?"), answering by rule so tests know the right
 * output: at "Let's think step by step." it writes a rationale (wrong by one on questions that say "tricky",
 * unless the prompt carries a hint); after an answer trigger it reads the rationale's last number; after a
 * few-shot "A:" it writes "... So the answer is: N.". Sample k of n alternates between two wordings.
 */
export class ArithmeticTeacher implements LLMClient {
  readonly model = 'arithmetic-teacher';
  /** Every prompt received, in order. */
  readonly prompts: string[] = [];

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const { prompt } = request;
    if (typeof prompt !== 'string') throw new Error('arithmetic teacher: text prompts only');
    this.prompts.push(prompt);
    const n = request.n ?? 1;
    const choices = Array.from({ length: n }, (_, k) => ({ text: this.reply(prompt, k), finishReason: 'stop' }));
    return {
      model: this.model,
      choices,
      usage: { promptTokens: Math.ceil(prompt.length / 4), completionTokens: choices.reduce((s, c) => s + Math.ceil(c.text.length / 4), 0) },
    };
  }

  chat(request: ChatRequest): Promise<CompletionResult> {
    return this.complete({ ...request, prompt: request.messages[request.messages.length - 1].content });
  }

  private reply(prompt: string, sample: number): string {
    const questions = [...prompt.matchAll(/Q: What is (\d+) \+ (\d+)\?( \(tricky\))?/g)];
    const last = questions[questions.length - 1];
    if (!last) return ' I do not know.';
    const [a, b] = [Number(last[1]), Number(last[2])];
    const hinted = /\(Hint: the answer is \d+\.\)/.test(prompt);
    const sum = a + b + (last[3] && !hinted ? 1 : 0);
    if (prompt.endsWith("Let's think step by step.")) {
      return sample % 2 === 0 ? ` ${a} plus ${b} makes ${sum}.` : ` Adding ${a} and ${b} gives ${sum}.`;
    }
    if (prompt.endsWith(' is')) {
      const numbers = prompt.slice(prompt.lastIndexOf('step by step.')).match(/\d+/g) ?? ['0'];
      return ` ${numbers[numbers.length - 1]}.`;
    }
    return ` ${a} plus ${b} is ${sum}. So the answer is: ${sum}.`;
  }
}

/** `count` sum questions; every third one says "tricky" (the teacher gets those wrong without a hint). */
export function sumExamples(count: number): Example[] {
  return Array.from({ length: count }, (_, i) => {
    const a = i + 2;
    const b = (i * 7) % 11;
    return {
      id: `sums/${i}`,
      question: `What is ${a} + ${b}?${i % 3 === 2 ? ' (tricky)' : ''}`,
      answers: [String(a + b)],
      answerType: 'number' as const,
      dataset: 'sums',
    };
  });
}

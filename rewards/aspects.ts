/**
 * `aspects`: the eight rationale-quality aspects of LM-Guided CoT (Lee et al., 2024), each rated 1–5 by a judge
 * LLM with its own prompt. When the judge returns log-probabilities with alternatives for the first generated
 * token, the rating is the expectation Σ_d p(d)·d over the digits 1–5 among them (renormalised), which is smoother
 * than the sampled digit; otherwise the first digit 1–5 of the reply is taken. Each rating maps to [0, 1] as
 * (rating − 1) / 4, and the score is the mean over the selected aspects.
 */
import type { CompletionResult } from '../lib/llm/types';
import { questionText } from '../lib/train/formats';
import { defineReward } from '../lib/reward/define';

/** The aspects and what the judge is asked to look for. */
export const ASPECTS: Record<string, string> = {
  factuality: 'Every statement in the rationale is true given the question and its context.',
  relevance: 'The rationale is about the question and uses the information the question gives.',
  logicality: 'Each step follows from the previous ones and leads to the answer.',
  consistency: 'The steps do not contradict each other or the question.',
  coherence: 'The steps are connected and in a sensible order.',
  fluency: 'The sentences are grammatical and read smoothly.',
  naturalness: 'The rationale sounds like something a person would write.',
  readability: 'The rationale is easy to follow, neither cluttered nor cryptic.',
};

/** The judge prompt for one aspect. */
export function aspectPrompt(aspect: string, question: string, rationale: string): string {
  return `Rate the ${aspect} of the rationale on a scale from 1 (poor) to 5 (excellent). ${ASPECTS[aspect]}\n`
    + `Question: ${question}\nRationale: ${rationale.trim()}\nRating (1-5):`;
}

/**
 * The rating in a judge reply: the probability-weighted digit when the first token's alternatives are there, else
 * the first digit 1–5 of the text; undefined when there is neither.
 */
export function ratingFromReply(result: CompletionResult): number | undefined {
  const choice = result.choices[0];
  const first = choice?.logprobs?.[0];
  if (first?.top?.length) {
    let mass = 0;
    let weighted = 0;
    for (const { token, logprob } of first.top) {
      const digit = Number(token.trim());
      if (Number.isInteger(digit) && digit >= 1 && digit <= 5 && token.trim().length === 1) {
        mass += Math.exp(logprob);
        weighted += Math.exp(logprob) * digit;
      }
    }
    if (mass > 0) return weighted / mass;
  }
  const digit = /[1-5]/.exec(choice?.text ?? '')?.[0];
  return digit === undefined ? undefined : Number(digit);
}

export default defineReward({
  name: 'aspects',
  description: 'eight rationale-quality aspects rated 1-5 by a judge LLM, from rating log-probabilities where given',
  needsJudge: true,
  defaults: { aspects: Object.keys(ASPECTS), alternatives: 5, unparsable: 'error' as 'error' | 'lowest' },
  async score(batch, { judge, signal }, { aspects, alternatives, unparsable }) {
    const unknown = aspects.filter((a) => !(a in ASPECTS));
    if (unknown.length) throw new Error(`reward "aspects": unknown aspect(s) ${unknown.join(', ')} (known: ${Object.keys(ASPECTS).join(', ')})`);
    return Promise.all(batch.map(async ({ example, rationale }, index) => {
      const ratings = await Promise.all(aspects.map(async (aspect) => {
        signal?.throwIfAborted();
        const reply = await judge!.complete({
          prompt: aspectPrompt(aspect, questionText(example), rationale), maxTokens: 2, temperature: 0, logprobs: alternatives,
        });
        const rating = ratingFromReply(reply);
        if (rating !== undefined) return rating;
        if (unparsable === 'lowest') return 1;
        throw new Error(`reward "aspects": no rating 1-5 in the judge's reply ${JSON.stringify(reply.choices[0]?.text)} (aspect ${aspect}, sample ${index})`);
      }));
      return ratings.reduce((sum, r) => sum + (r - 1) / 4, 0) / ratings.length;
    }));
  },
});

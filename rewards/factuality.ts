/**
 * `factuality`: are the rationale's statements supported? Two parts:
 * - support: for each sentence, the share of its content words (stemmed, no stopwords) found in the question,
 *   context and choices, averaged over sentences;
 * - exact step checks where a task allows them ({@link checkSteps}: last letters, arithmetic, coin flips): the
 *   share of checked steps that hold.
 * score = support when no step is checkable, else (1 − stepWeight) · support + stepWeight · stepAccuracy. In [0, 1].
 */
import { defineReward } from '../lib/reward/define';
import { checkSteps } from './steps';
import { contentWords, loadNatural, mean, sentences, sourceText } from './text';

/** Mean over sentences of the share of content words that occur in the example's sources. */
export function contextSupport(rationale: string, source: string): number {
  const known = new Set(contentWords(source));
  const perSentence = sentences(rationale)
    .map((s) => contentWords(s))
    .filter((terms) => terms.length > 0)
    .map((terms) => terms.filter((t) => known.has(t)).length / terms.length);
  return mean(perSentence, 0);
}

export default defineReward({
  name: 'factuality',
  description: 'context support of each sentence, plus exact checks of last-letter, arithmetic and coin-flip steps',
  prepare: loadNatural,
  defaults: { stepWeight: 0.7 },
  async score(batch, _context, { stepWeight }) {
    return batch.map(({ example, rationale }) => {
      const support = contextSupport(rationale, sourceText(example));
      const steps = checkSteps(example, rationale);
      if (steps.length === 0) return support;
      const accuracy = steps.filter((s) => s.correct).length / steps.length;
      return (1 - stepWeight) * support + stepWeight * accuracy;
    });
  },
});

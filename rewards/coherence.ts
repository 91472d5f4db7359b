/**
 * `coherence`: sentence-to-sentence flow without repetition. Flow is the mean cosine between the content-word
 * bags of adjacent sentences (a rationale of one sentence has full flow); it is discounted by the share of
 * repeated word n-grams and of repeated sentences:
 *   score = (floor + (1 − floor) · flow) · (1 − repeatedNgrams) · (1 − repeatedSentences),  in [0, 1].
 * The default n (6) is long enough that templated steps ("The last letter of "Jen" is "n".") do not count as
 * repeats while loops ("so the coin is so the coin is ...") do.
 */
import { defineReward } from '../lib/reward/define';
import { bagOf, contentWords, cosine, loadNatural, sentences, words } from './text';

/** Share of the text's word n-grams that repeat an earlier one (0 for texts shorter than n). */
export function repeatedNgramShare(text: string, n: number): number {
  const tokens = words(text);
  const total = tokens.length - n + 1;
  if (total <= 0) return 0;
  const seen = new Set<string>();
  for (let i = 0; i < total; i++) seen.add(tokens.slice(i, i + n).join(' '));
  return (total - seen.size) / total;
}

/** Share of sentences that repeat an earlier one (case and spacing ignored). */
export function repeatedSentenceShare(text: string): number {
  const all = sentences(text).map((s) => words(s).join(' '));
  return all.length === 0 ? 0 : (all.length - new Set(all).size) / all.length;
}

/** Mean cosine of adjacent sentences' content words (1 for fewer than two sentences). */
export function adjacentFlow(text: string): number {
  const bags = sentences(text).map((s) => bagOf(contentWords(s)));
  if (bags.length < 2) return 1;
  let total = 0;
  for (let i = 1; i < bags.length; i++) total += cosine(bags[i - 1], bags[i]);
  return total / (bags.length - 1);
}

export default defineReward({
  name: 'coherence',
  description: 'adjacent-sentence similarity, discounted by repeated n-grams and sentences',
  prepare: loadNatural,
  defaults: { ngram: 6, floor: 0.5 },
  async score(batch, _context, { ngram, floor }) {
    return batch.map(({ rationale }) => {
      if (rationale.trim() === '') return 0;
      const flow = floor + (1 - floor) * adjacentFlow(rationale);
      return flow * (1 - repeatedNgramShare(rationale, ngram)) * (1 - repeatedSentenceShare(rationale));
    });
  },
});

/**
 * `length-guard`: a guard against degenerate outputs, 1 for a well-formed rationale and less for:
 * fewer than `minWords` or more than `maxWords` words (falling linearly to 0 at 0 words / 2 · maxWords),
 * a word or short phrase looping three times in a row, a repeated sentence, or no letters at all.
 * Meant as a multiplier in a composite expression (`answer_correctness * length_guard`) or a small weight.
 */
import { isRepetitive } from '../lib/eval/quality';
import { defineReward } from '../lib/reward/define';
import { loadNatural, words } from './text';

export default defineReward({
  name: 'length-guard',
  description: 'penalises empty, too short, too long and looping rationales',
  prepare: loadNatural,
  defaults: { minWords: 5, maxWords: 150, loopPenalty: 0.5 },
  async score(batch, _context, { minWords, maxWords, loopPenalty }) {
    return batch.map(({ rationale }) => {
      if (!/[A-Za-z]/.test(rationale)) return 0;
      const count = words(rationale).length;
      const lengthScore = count < minWords ? count / minWords : count > maxWords ? Math.max(0, 2 - count / maxWords) : 1;
      return lengthScore * (isRepetitive(rationale) ? 1 - loopPenalty : 1);
    });
  },
});

import type { Example } from '../../lib/data/types';
import { checkSteps, createReward, repeatedNgramShare, repeatedSentenceShare, adjacentFlow, contextSupport } from '../../rewards';

const lastLetters: Example = {
  id: 'last_letters/0', question: 'Take the last letters of each words in "Jeff Jen Giselle Noel" and concatenate them.',
  answers: ['fnel'], answerType: 'text', dataset: 'last_letters',
};
const coinFlip: Example = {
  id: 'coin_flip/0',
  question: 'A coin is heads up. Jeff does not flip the coin. Jen flips the coin. Giselle flips the coin. Noel does not flip the coin. Is the coin still heads up? Note that "flip" here means "reverse".',
  answers: ['yes'], answerType: 'yes-no', dataset: 'coin_flip',
};
const score = (name: string, example: Example, rationales: string[], options = {}) =>
  createReward({ name, options }).score(rationales.map((rationale) => ({ example, rationale })), {});

describe('exact step checks', () => {
  test('last letters: by word and by ordinal, including a fifth word the question does not have', () => {
    const steps = checkSteps(lastLetters, 'The last letter of "Jeff" is "f". The last letter of "Jen" is "e". '
      + 'The last letter of the third word is "e". The last letter of the fifth word is "a".');
    expect(steps.map((s) => s.correct)).toEqual([true, false, true, false]);
    expect(steps.every((s) => s.kind === 'last-letter')).toBe(true);
  });

  test('arithmetic: left side evaluated, thousands separators allowed', () => {
    const steps = checkSteps(lastLetters, 'First 3 + 4 * 2 = 11. Then 12 / 4 = 4. So 1,000 - 1 = 999.');
    expect(steps.map((s) => [s.kind, s.correct])).toEqual([['arithmetic', true], ['arithmetic', false], ['arithmetic', true]]);
  });

  test('coin flips: each claimed action and the side after it', () => {
    const steps = checkSteps(coinFlip, 'Jeff does not flip the coin, so the coin remains heads up. '
      + 'Jen flips the coin, so the coin is now tails up. Giselle does not flip the coin, so the coin is now tails up. '
      + 'Noel does not flip the coin, so it is still heads up.');
    // Giselle: wrong action (she flips) and wrong side (heads after two flips); the rest hold.
    expect(steps.map((s) => s.correct)).toEqual([true, true, true, true, false, false, true, true]);
  });

  test('coin flips: accented and two-word names are people too', () => {
    const example = { ...coinFlip, question: 'A coin is heads up. Jesús flips the coin. Jose Luis does not flip the coin. Is the coin still heads up?' };
    const steps = checkSteps(example, 'Jesús flips the coin, so the coin is now heads up. Jose Luis does not flip the coin, so it remains tails up.');
    // Jesús: right action, wrong side; Jose Luis: right action, right side.
    expect(steps.map((s) => s.correct)).toEqual([true, false, true, true]);
  });
});

describe('built-in rewards', () => {
  test('factuality = 0.3 · support + 0.7 · step accuracy when steps are checkable', async () => {
    const rationale = 'The last letter of "Jeff" is "f". The last letter of "Jen" is "x".';
    const support = contextSupport(rationale, lastLetters.question);
    const [value] = await score('factuality', lastLetters, [rationale]);
    expect(value).toBeCloseTo(0.3 * support + 0.7 * 0.5, 10);
    const [supportOnly] = await score('factuality', lastLetters, ['Jeff and Giselle are words.']);
    expect(supportOnly).toBeCloseTo(contextSupport('Jeff and Giselle are words.', lastLetters.question), 10);
    // "jeff", "giselle" occur in the question, "word" stems from "words"; every content word is supported
    expect(supportOnly).toBeCloseTo(1, 10);
  });

  test('relevance: identical text 1, on-topic above off-topic, unrelated 0', async () => {
    const [same, onTopic, offTopic, none] = await score('relevance', lastLetters, [
      lastLetters.question, 'The last letter of "Jeff" is "f" and of "Noel" is "l".', 'Paris is the capital of France.', '',
    ]);
    expect(same).toBeCloseTo(1, 6);
    expect(onTopic).toBeGreaterThan(0.2);
    expect(offTopic).toBe(0);
    expect(none).toBe(0);
  });

  test('coherence: repeated n-grams and sentences by hand', async () => {
    expect(repeatedNgramShare('a b a b a b', 2)).toBeCloseTo(3 / 5); // ab ba ab ba ab: 2 distinct of 5
    expect(repeatedSentenceShare('It is heads. It is heads. It is tails.')).toBeCloseTo(1 / 3);
    expect(adjacentFlow('Only one sentence.')).toBe(1);
    const teacher = 'The last letter of "Jeff" is "f". The last letter of "Jen" is "n". The last letter of "Giselle" is "e".';
    const looping = 'The coin is heads up so the coin is heads up so the coin is heads up so the coin is heads up.';
    const [good, bad, empty] = await score('coherence', lastLetters, [teacher, looping, '']);
    expect(repeatedNgramShare(teacher, 6)).toBe(0); // templated steps are not repeats at n = 6
    expect(good).toBeCloseTo(0.5 + 0.5 * adjacentFlow(teacher), 10);
    expect(bad).toBeCloseTo((1 - repeatedNgramShare(looping, 6)) * 1, 10); // one sentence: full flow
    expect(bad).toBeLessThan(0.5);
    expect(empty).toBe(0);
  });

  test('length guard: in range 1, short/long scaled, loops halved, no letters 0', async () => {
    const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}x`).join(' ');
    const values = await score('length-guard', lastLetters, [words(10), words(2), words(15), 'so so so so it is.', '...'], { minWords: 4, maxWords: 10 });
    expect(values).toEqual([1, 0.5, 0.5, 0.5, 0]);
  });

  test('unknown option names are an error naming the module and its options', () => {
    expect(() => createReward({ name: 'coherence', options: { ngrams: 3 } })).toThrow('reward "coherence": unknown option(s) ngrams (known: ngram, floor)');
  });
});

import { isRepetitive, rationaleQuality, sentences } from '../../lib/eval/quality';

describe('rationale quality measures', () => {
  test('sentences split on terminal punctuation', () => {
    expect(sentences('A b. C d?  E!')).toEqual(['A b.', 'C d?', 'E!']);
  });

  test('templated steps are not repetition; a repeated sentence or a loop is', () => {
    expect(isRepetitive('The last letter of "Jeff" is "f". The last letter of "Jen" is "n". Concatenating them gives "fn".')).toBe(false);
    expect(isRepetitive('The last letter of "Jeff" is "f". The last letter of "Jeff" is "f". So "f".')).toBe(true);
    expect(isRepetitive('so the the the answer')).toBe(true);
    expect(isRepetitive('it is it is it is done')).toBe(true);
    expect(isRepetitive('it is it is done')).toBe(false);
  });

  test('rate and mean length', () => {
    expect(rationaleQuality(['ab. ab.', 'abcd', 'x'])).toEqual({ repetitionRate: 1 / 3, meanLength: (7 + 4 + 1) / 3 });
  });
});

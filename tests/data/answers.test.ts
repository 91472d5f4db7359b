import { canonicalNumber, exactMatch, f1, normalizeAnswer, parseAnswer, scoreAnswer, scoreGeneration } from '../../lib/data/answers';
import type { Example } from '../../lib/data/types';

describe('parseAnswer: numbers', () => {
  it('reads the first number after the trigger, without commas, currency or units', () => {
    expect(parseAnswer('She had 12 eggs.\nTherefore, the answer (arabic numerals) is $1,234.50 dollars, not 7.', 'number')).toBe('1234.5');
  });
  it('canonicalises 3.0 to 3 and keeps signs', () => {
    expect(parseAnswer('So the answer is 3.0.', 'number')).toBe('3');
    expect(parseAnswer('The answer is -4 degrees.', 'number')).toBe('-4');
    expect(canonicalNumber('0.50')).toBe('0.5');
    expect(canonicalNumber('abc')).toBeUndefined();
  });
  it('takes the last number when there is no trigger', () => {
    expect(parseAnswer('She had 5 apples, then 7 more, so 12', 'number')).toBe('12');
  });
  it('falls back to an earlier trigger when the model restates the answer in words', () => {
    expect(parseAnswer('4 - 2 = 2\nTherefore, the answer (arabic numerals) is 2.\n\nThe answer (in words) is "two."', 'number')).toBe('2');
  });
  it('gives nothing when the trigger is followed by no number', () => {
    expect(parseAnswer('We had 5 cars. Therefore, the answer (arabic numerals) is .', 'number')).toBe('');
  });
  it('honours a custom trigger (Fine-tune-CoT writes "rationale --> answer")', () => {
    expect(parseAnswer('8 - 3 = 5 apples --> 5', 'number', { trigger: '-->' })).toBe('5');
  });
  it('reads GSM8K solutions after ####', () => {
    expect(parseAnswer('9 * 2 = $18 every day.\n#### 18', 'number')).toBe('18');
  });
});

describe('parseAnswer: choices, yes/no, text', () => {
  const choices = [
    { label: 'A', text: 'bank' },
    { label: 'B', text: 'library' },
    { label: 'C', text: 'department store' },
  ];
  it('reads a choice letter in parentheses or standing alone', () => {
    expect(parseAnswer('Therefore, among A through E, the answer is (C).', 'choice')).toBe('C');
    expect(parseAnswer('Therefore, among A through E, the answer is E.', 'choice')).toBe('E');
    expect(parseAnswer('Answer: B', 'choice')).toBe('B');
  });
  it('does not take the article "A" for an option', () => {
    expect(parseAnswer('the answer is A library, which is (B).', 'choice', { choices })).toBe('B');
  });
  it('matches an option by its text', () => {
    expect(parseAnswer('So the answer is the department store.', 'choice', { choices })).toBe('C');
  });
  it('accepts only the labels of the given options', () => {
    const six = 'ABCDEF'.split('').map((label) => ({ label, text: `option ${label}` }));
    expect(parseAnswer('the answer is (F)', 'choice', { choices: six })).toBe('F');
    expect(parseAnswer('the answer is (F)', 'choice')).toBe('');
  });
  it('reads yes/no after the trigger, else the last one', () => {
    expect(parseAnswer('Yes, it is cold. Therefore, the answer (Yes or No) is: No.', 'yes-no')).toBe('no');
    expect(parseAnswer('Yes it flips, no it does not, so yes', 'yes-no')).toBe('yes');
    expect(parseAnswer('It is unknown.', 'yes-no')).toBe('');
  });
  it('reads free text: first line after the trigger, quotes and trailing period removed', () => {
    expect(parseAnswer('The last letter of "Jeff" is "f".\nTherefore, the answer is "fnel".', 'text')).toBe('fnel');
    expect(parseAnswer('So the answer is: Chief of Protocol.\nShe served from 1976.', 'text')).toBe('Chief of Protocol');
    expect(parseAnswer('She was born in France.\nParis.', 'text')).toBe('Paris');
  });
});

describe('SQuAD normalisation, exact match and F1', () => {
  it('normalises case, punctuation, articles and spaces', () => {
    expect(normalizeAnswer('  The  Eiffel-Tower, an icon! ')).toBe('eiffeltower icon');
  });
  it('exact match takes the best gold alias', () => {
    expect(exactMatch('The Eiffel Tower!', ['tour eiffel', 'eiffel tower'])).toBe(1);
    expect(exactMatch('Eiffel', ['eiffel tower'])).toBe(0);
  });
  it('F1 against hand-computed values', () => {
    // "cat sat on mat" vs "cat on mat": 3 common tokens, P = 3/4, R = 3/3, F1 = 2PR/(P+R) = 6/7.
    expect(f1('the cat sat on the mat', ['a cat on a mat'])).toBeCloseTo(6 / 7, 12);
    // Multiplicity: [x x y] vs [x y y] share one x and one y: P = R = 2/3.
    expect(f1('x x y', ['x y y'])).toBeCloseTo(2 / 3, 12);
    // Max over aliases: 0 against the first, 1/2 against the second (P = 1/1, R = 1/3 -> 2*(1/3)/(4/3)).
    expect(f1('paris', ['london', 'paris france city'])).toBeCloseTo(0.5, 12);
    expect(f1('the', ['a'])).toBe(1); // both empty after normalisation
    expect(f1('', ['paris'])).toBe(0);
  });
});

describe('scoreAnswer', () => {
  const make = (answerType: Example['answerType'], answers: string[]): Example => ({ id: 't/0', question: 'q', answers, answerType });
  it('numbers compare by value', () => {
    expect(scoreAnswer('3.0', make('number', ['3']))).toBe(1);
    expect(scoreAnswer('0.6666666666666667', make('number', ['0.6666666666666666']))).toBe(1);
    expect(scoreAnswer('1,000', make('number', ['1000']))).toBe(1);
    expect(scoreAnswer('3.1', make('number', ['3']))).toBe(0);
    expect(scoreAnswer('', make('number', ['0']))).toBe(0);
  });
  it('choices and yes/no compare case-insensitively; empty is wrong', () => {
    expect(scoreAnswer('c', make('choice', ['C']))).toBe(1);
    expect(scoreAnswer('D', make('choice', ['C']))).toBe(0);
    expect(scoreAnswer('Yes', make('yes-no', ['yes']))).toBe(1);
    expect(scoreAnswer('', make('yes-no', ['no']))).toBe(0);
  });
  it('text uses normalised exact match over aliases', () => {
    expect(scoreAnswer('the Chief of Protocol', make('text', ['Chief of Protocol']))).toBe(1);
    expect(scoreAnswer('Protocol', make('text', ['Chief of Protocol']))).toBe(0);
  });
  it('scoreGeneration parses then scores', () => {
    const example: Example = { ...make('choice', ['B']), choices: [{ label: 'A', text: 'bank' }, { label: 'B', text: 'library' }] };
    expect(scoreGeneration('Books are kept there. Therefore, the answer is library.', example)).toBe(1);
    expect(scoreGeneration('Money is kept there. Therefore, the answer is (A).', example)).toBe(0);
  });
});

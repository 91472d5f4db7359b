import type { Example, RationaleRecord } from '../../lib/data/types';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { recombineLetterSteps } from '../../bench/letter-steps';
import { renameCoinFlipPeople } from '../../bench/name-swap';
import { WordCharTokenizer } from '../../lib/tokenizer/word-char';

const question = (words: string) => `Take the last letters of each words in "${words}" and concatenate them.`;
const steps = (words: string) => words.split(' ').map((w) => `The last letter of "${w}" is "${w.slice(-1)}".`).join('\n');
const lastLetters = (words: string) => words.split(' ').map((w) => w.slice(-1)).join('');

function teacher(words: string, i: number, finalLine: string): { example: Example; record: RationaleRecord } {
  const example: Example = { id: `ll/${i}`, question: question(words), answers: [lastLetters(words)], answerType: 'text' };
  const record: RationaleRecord = {
    exampleId: example.id, rationale: `${steps(words)}\n\n${finalLine.replace('ANSWER', lastLetters(words))}`,
    answer: lastLetters(words), correct: true, strategy: 'zero-shot-cot', model: 'test',
  };
  return { example, record };
}

test('recombined last-letter rows are consistent: question words, steps, final line and answer agree', () => {
  const sources = [
    teacher('Jeff Jen Giselle Noel', 0, 'So, the final answer is "ANSWER".'),
    teacher('Erwin Chad Margarito Shanna', 1, 'So the final answer is "ANSWER".'),
    teacher('Rena Devon Rosalinda', 2, 'So the final answer would be "ANSWER".'),
    // Quotes the answer twice in different forms: not a usable template.
    teacher('Colton Dexter Katy Brayden', 3, 'So the final answer would be "n-r-y-n", or "ANSWER".'),
  ];
  const { records, examples } = recombineLetterSteps(sources.map((s) => s.record), sources.map((s) => s.example), 40, 7);
  expect(records).toHaveLength(40);
  const sourceWords = new Set(['Jeff', 'Jen', 'Giselle', 'Noel', 'Erwin', 'Chad', 'Margarito', 'Shanna', 'Rena', 'Devon', 'Rosalinda']);
  records.forEach((record, i) => {
    const example = examples[i];
    expect(record.exampleId).toBe(example.id);
    const words = example.question.match(/"([^"]*)"/)![1];
    expect(words.split(' ').every((w) => sourceWords.has(w))).toBe(true);
    expect(example.question).toBe(question(words));
    expect(example.answers).toEqual([lastLetters(words)]);
    expect(record.answer).toBe(lastLetters(words));
    expect(record.rationale.startsWith(`${steps(words)}\n\n`)).toBe(true);
    expect(record.rationale).toMatch(new RegExp(`^So,? the final answer (is|would be) "${lastLetters(words)}"\\.$`, 'm'));
    expect(record.rationale).not.toContain('-');
  });
  // Mixed combinations: not every row copies one source question.
  expect(new Set(examples.map((e) => e.question)).size).toBeGreaterThan(30);
});

test('word-char tokenizer: recurring words are one token, rare words spelled out, text comes back exactly', () => {
  const texts = Array.from({ length: 20 }, (_, i) => `The last letter of "Name${String.fromCharCode(97 + i)}" is "${String.fromCharCode(97 + i)}".`);
  const tokenizer = WordCharTokenizer.fromTexts(texts, 0.5);
  expect(tokenizer.words).toEqual([' is', ' last', ' letter', ' of', 'The']);
  const known = 'The last letter of "Namea" is "a".';
  expect(tokenizer.decode(tokenizer.encode(known))).toBe(known);
  const ids = tokenizer.encode(known, { addBos: true, addEos: true });
  expect(tokenizer.decode(ids)).toBe(`<bos>${known}<eos>`);
  expect(tokenizer.decode(ids, { skipSpecial: true })).toBe(known);
  // 5 word tokens + 13 characters: ' "Namea"', ' "a"' and '.'.
  expect(tokenizer.encode(known)).toHaveLength(5 + 13);
  expect(tokenizer.encode(known).length).toBeLessThan(CharTokenizer.fromTexts(texts).encode(known).length);
  // A word that only starts like a known one is spelled out.
  expect(tokenizer.encode(' lettering')).toHaveLength(' lettering'.length);
  expect(tokenizer.encode('Z')).toEqual([tokenizer.unkId]);
});

test('renamed coin-flip rows rename every person in question and rationale alike, with names from the pool', () => {
  const people = [['Jeff', 'flips'], ['Jen', 'does not flip'], ['Ann', 'flips'], ['Noel', 'flips']];
  const example: Example = {
    id: 'cf/0', answers: ['no'], answerType: 'yes-no',
    question: `A coin is heads up. ${people.map(([n, v]) => `${n} ${v} the coin.`).join(' ')} Is the coin still heads up?`,
  };
  const other: Example = { id: 'cf/1', answers: ['yes'], answerType: 'yes-no', question: 'A coin is heads up. Annabel flips the coin. Joe flips the coin. Lee does not flip the coin. Mia does not flip the coin. Is the coin still heads up?' };
  const record: RationaleRecord = {
    exampleId: 'cf/0', answer: 'no', correct: true, strategy: 'zero-shot-cot', model: 'test',
    rationale: 'Jeff flips the coin, so it is tails up. Jen does not. Ann flips: heads. Noel flips: tails. So Jeff, Jen, Ann and Noel leave it tails up.',
  };
  const { records, examples } = renameCoinFlipPeople([record], [example, other], 3, 1);
  expect(records).toHaveLength(3);
  records.forEach((renamed, i) => {
    const names = [...examples[i].question.matchAll(/\. ([A-Z][a-z]+) (?:does not flip|flips) /g)].map((m) => m[1]);
    // Same actions in the same order; the new names are the other question's people, so "Ann" never survives
    // inside "Annabel" and nothing is renamed twice.
    expect(examples[i].question).toBe(example.question.replace(/Jeff|Jen|Ann|Noel/g, (n) => names[['Jeff', 'Jen', 'Ann', 'Noel'].indexOf(n)]));
    expect(names.slice().sort()).toEqual(['Annabel', 'Joe', 'Lee', 'Mia']);
    expect(renamed.rationale).toBe(record.rationale.replace(/Jeff|Jen|Ann|Noel/g, (n) => names[['Jeff', 'Jen', 'Ann', 'Noel'].indexOf(n)]));
    expect(renamed.answer).toBe('no');
    expect(examples[i].answers).toEqual(['no']);
  });
});

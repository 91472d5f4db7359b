import type { Example, RationaleRecord } from '../../lib/data/types';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { recombineCoinFlips } from '../../bench/coin-steps';
import { recombineLetterSteps } from '../../bench/letter-steps';
import { checkSteps, coinFlipFacts, nameMention } from '../../rewards/steps';
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

describe('recombined coin-flip rows', () => {
  const coinQuestion = (people: [string, boolean][]) =>
    `A coin is heads up. ${people.map(([n, f]) => `${n} ${f ? 'flips' : 'does not flip'} the coin.`).join(' ')} Is the coin still heads up? Note that "flip" here means "reverse".`;
  const source = (id: string, people: [string, boolean][], lines: string[], answer: string) => ({
    example: { id, question: coinQuestion(people), answers: [answer], answerType: 'yes-no' } as Example,
    record: { exampleId: id, rationale: lines.join('\n'), answer, correct: true, strategy: 'zero-shot-cot', model: 'test' } as RationaleRecord,
  });
  const sources = [
    // One step per line, the side after each: a template.
    source('cf/0', [['Jeff', false], ['Jesús', true], ['Ann', true], ['Noel', true]], [
      'Jeff does not flip the coin, so the coin remains heads up.', 'Jesús flips the coin, so the coin is now tails up.',
      'Ann flips the coin, so the coin is now heads up again.', 'Noel flips the coin, so the coin is now tails up.', '',
      'Therefore, the answer is no, the coin is tails up.'], 'no'),
    // The side on the line after the person's: a template too.
    source('cf/1', [['Mia', true], ['Lee', false], ['Jose Luis', true], ['Ada', false]], [
      'A coin is heads up.', 'Mia flips the coin.', 'The coin is now tails up.', 'Lee does not flip the coin.',
      'The coin is still tails up.', 'Jose Luis flips the coin.', 'The coin is now heads up.', 'Ada does not flip the coin.',
      'The coin is still heads up.', '', 'So, yes.'], 'yes'),
    // A wrong step ("if it was tails" before the first flip): never a template.
    source('cf/2', [['Rena', true], ['Devon', true], ['Kim', false], ['Bo', false]], [
      'Rena flips the coin. This means that if the coin was tails up, it is now heads up.', 'Devon flips the coin, so it is tails up.',
      'Kim does not flip the coin, so it is tails up.', 'Bo does not flip the coin, so it is tails up.', 'So the answer is no.'], 'yes'),
    // No side after each step: never a template.
    source('cf/3', [['Zed', true], ['Yan', false], ['Xia', true], ['Wu', false]], [
      'Zed flips the coin.', 'Yan does not flip the coin.', 'Xia flips the coin.', 'Wu does not flip the coin.', 'So the coin is heads up.'], 'yes'),
  ];
  const { records, examples } = recombineCoinFlips(sources.map((s) => s.record), sources.map((s) => s.example), 60, 3);

  test('every row is consistent: its steps follow its own flips, and the answer is the final side', () => {
    expect(records).toHaveLength(60);
    const pool = new Set(sources.flatMap((s) => coinFlipFacts(s.example.question)!.flips.map((f) => f.name)));
    records.forEach((record, i) => {
      const example = examples[i];
      expect(record.exampleId).toBe(example.id);
      expect(example.id).toMatch(/^cf\/[01]\/recombined-\d+$/);
      const facts = coinFlipFacts(example.question)!;
      expect(facts.flips).toHaveLength(4);
      expect(facts.flips.every((f) => pool.has(f.name))).toBe(true);
      expect(new Set(facts.flips.map((f) => f.name)).size).toBe(4);
      const answer = facts.flips.filter((f) => f.flips).length % 2 === 0 ? 'yes' : 'no';
      expect(example.answers).toEqual([answer]);
      expect(record.answer).toBe(answer);
      // The reward's step checker agrees with every step, and the rationale names the people in question order.
      const checks = checkSteps(example, record.rationale);
      expect(checks.length).toBeGreaterThanOrEqual(4);
      expect(checks.every((c) => c.correct)).toBe(true);
      const order = facts.flips.map((f) => record.rationale.search(nameMention(f.name)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      // The closing line follows the final side; "again" only after a flip back to heads.
      const closing = record.rationale.split('\n').at(-1)!;
      if (example.id.startsWith('cf/0/')) expect(closing).toBe(`Therefore, the answer is ${answer}, the coin is ${answer === 'yes' ? 'heads' : 'tails'} up.`);
      else expect(closing).toBe(`So, ${answer === 'yes' ? 'yes' : 'no'}.`);
      for (const line of record.rationale.split('\n').filter((l) => l.includes('again'))) expect(line).toMatch(/flips the coin, so the coin is now heads up again\.$/);
    });
  });

  test('both templates are used, and flips are new combinations', () => {
    expect(new Set(examples.map((e) => e.id.split('/')[1]))).toEqual(new Set(['0', '1']));
    const patterns = new Set(examples.map((e) => coinFlipFacts(e.question)!.flips.map((f) => (f.flips ? 1 : 0)).join('')));
    expect(patterns.size).toBeGreaterThan(8);
  });
});

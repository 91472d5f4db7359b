import { readFileSync } from 'node:fs';
import type { Example } from '../../lib/data/types';
import { scoreAnswer } from '../../lib/data';
import { loadDataset } from '../../lib/data/datasets';
import { listedNames, namePools, novelNames, POOL_SIZES, recombinedQuestions, trainNames } from '../../bench/rl-prompts';

const letters = (words: string): Example => ({
  id: `ll/${words}`, question: `Take the last letters of each words in "${words}" and concatenate them.`,
  answers: [words.split(' ').map((w) => w.slice(-1)).join('')], answerType: 'text',
});
const NOTE = 'Is the coin still heads up? Note that "flip" here means "reverse".';
const coin = (turns: [string, boolean][]): Example => ({
  id: `cf/${turns.map((t) => t[0]).join('-')}`,
  question: `A coin is heads up. ${turns.map(([p, f]) => `${p} ${f ? 'flips' : 'does not flip'} the coin.`).join(' ')} ${NOTE}`,
  answers: [turns.filter((t) => t[1]).length % 2 === 0 ? 'yes' : 'no'], answerType: 'yes-no',
});

test('recombined last-letter questions: train words only, as many words as the train questions, gold computed', () => {
  const train = [letters('Whitney Erika Tj Benito'), letters('Jeff Jen Giselle Noel')];
  const out = recombinedQuestions('last_letters', train, 50, 3);
  expect(out).toHaveLength(50);
  const pool = new Set(['Whitney', 'Erika', 'Tj', 'Benito', 'Jeff', 'Jen', 'Giselle', 'Noel']);
  for (const e of out) {
    const words = /"(.+)"/.exec(e.question)![1].split(' ');
    expect(words).toHaveLength(4);
    expect(words.every((w) => pool.has(w))).toBe(true);
    expect(e.question).toBe(letters(words.join(' ')).question);
    expect(e.answers).toEqual([words.map((w) => w.at(-1)).join('')]);
  }
  expect(new Set(out.map((e) => e.question)).size).toBeGreaterThan(40);
  expect(recombinedQuestions('last_letters', train, 50, 3)).toEqual(out);
});

test('recombined coin-flip questions: train people, the answer follows the parity of the flips', () => {
  const train = [coin([['Whitney', true], ['Erika', false], ['Tj', false], ['Benito', true]]), coin([['Jeff', false], ['Mary Ann', true], ['Noel', true], ['Jen', true]])];
  const out = recombinedQuestions('coin_flip', train, 60, 5);
  const answers = new Set<string>();
  for (const e of out) {
    const turns = [...e.question.matchAll(/([A-Z][\w'-]*(?: [A-Z][\w'-]*)*) (flips|does not flip) the coin\./g)];
    expect(turns).toHaveLength(4);
    expect(new Set(turns.map((t) => t[1])).size).toBe(4); // four different people
    const rebuilt = coin(turns.map((t) => [t[1], t[2] === 'flips']));
    expect(e.question).toBe(rebuilt.question);
    expect(scoreAnswer(e.answers[0], rebuilt)).toBe(1);
    answers.add(e.answers[0]);
  }
  expect([...answers].sort()).toEqual(['no', 'yes']);
});

test('novel names: letter by letter from the pool\'s order-2 statistics, none in the pool or the excluded set, seeded', () => {
  const pool = ['Whitney', 'Erika', 'Benito', 'Giselle', 'Noel', 'Jeff', 'Jennifer', 'Joelle', 'Bennett', 'Erica', 'Whit', 'Gisela'];
  const names = novelNames(pool, 12, 4);
  expect(names).toHaveLength(12);
  expect(new Set(names).size).toBe(12);
  expect(novelNames(pool, 12, 4)).toEqual(names);
  const contexts = new Set(pool.flatMap((p) => [...`^^${p}$`].slice(2).map((c, i) => `^^${p}$`.slice(i, i + 3))));
  for (const name of names) {
    expect(pool).not.toContain(name);
    expect(name.length).toBeGreaterThanOrEqual(3);
    // every three consecutive letters (with the start and end marks) occur in some pool name
    const padded = `^^${name}$`;
    for (let i = 0; i + 3 <= padded.length; i++) expect(contexts).toContain(padded.slice(i, i + 3));
  }
  const others = novelNames(pool, 4, 5, new Set(names));
  expect(others.some((n) => names.includes(n))).toBe(false);
  expect(() => novelNames(['Ab'], 5, 1)).toThrow(/only 0 of 5 new names from a pool of 1/);
  // the questions over them: every quoted word a novel name, gold from its last letters
  const train = [letters('Whitney Erika Tj Benito')];
  expect(trainNames('last_letters', train)).toEqual(['Whitney', 'Erika', 'Tj', 'Benito']);
  for (const e of recombinedQuestions('last_letters', train, 10, 1, names)) {
    const words = /"(.+)"/.exec(e.question)![1].split(' ');
    expect(words.every((w) => names.includes(w))).toBe(true);
    expect(e.answers).toEqual([words.map((w) => w.at(-1)).join('')]);
  }
});

test('listed names: distinct, none excluded, lengths drawn from the given names, seeded; too few is an error', () => {
  const list = ['Ann', 'Bob', 'Eve', 'Ida', 'Joe', 'Anna', 'Jose', 'Liam', 'Noah', 'Abbruzzese'];
  const out = listedNames(list, ['Tj', 'Jeff', 'Noel', 'Jen'], 5, 7, new Set(['Bob', 'Noah']));
  expect(new Set(out).size).toBe(5);
  for (const name of out) {
    expect(list).toContain(name);
    expect(['Bob', 'Noah']).not.toContain(name);
    expect([3, 4]).toContain(name.length); // no list name is 2 letters long, so only the lengths of Jeff/Noel and Jen
  }
  expect(out.filter((n) => n.length === 4).length).toBeGreaterThan(0);
  expect(listedNames(list, ['Tj', 'Jeff', 'Noel', 'Jen'], 5, 7, new Set(['Bob', 'Noah']))).toEqual(out);
  expect(() => listedNames(list, ['Jeff'], 4, 1, new Set(['Anna', 'Jose']))).toThrow('only 2 of 4 names');
});

test('name pools on Last Letter: full sizes, disjoint where they must be, listed names of the list and in no question of the dataset, seeded', () => {
  const examples = loadDataset('last_letters');
  const split = { train: examples.slice(0, 350), test: examples.slice(350) };
  const list = readFileSync('data/names/first-names.txt', 'utf8').split('\n').filter(Boolean);
  const pools = namePools('last_letters', split, list, 0, 1000);
  for (const [pool, size] of [['novel', POOL_SIZES.novel], ['validationNovel', POOL_SIZES.validation], ['validationListed', POOL_SIZES.validation], ['listed', POOL_SIZES.listed]] as const) {
    expect(new Set(pools[pool]).size).toBe(size);
  }
  const inDataset = new Set([...trainNames('last_letters', split.train), ...trainNames('last_letters', split.test)]);
  const overlap = (a: readonly string[], b: readonly string[] | Set<string>) => a.filter((n) => (b instanceof Set ? b.has(n) : b.includes(n)));
  expect(overlap(pools.novel, trainNames('last_letters', split.train))).toEqual([]);
  expect(overlap(pools.validationNovel, pools.novel)).toEqual([]);
  for (const listed of [pools.validationListed, pools.listed]) {
    expect(overlap(listed, new Set(list))).toHaveLength(listed.length);
    expect(overlap(listed, inDataset)).toEqual([]);
  }
  expect(overlap(pools.validationListed, pools.novel)).toEqual([]);
  // the RL questions' listed names are in neither validation pool
  expect(overlap(pools.listed, [...pools.validationListed, ...pools.validationNovel])).toEqual([]);
  expect(namePools('last_letters', split, list, 0, 1000)).toEqual(pools);
  expect(overlap(namePools('last_letters', split, list, 1, 1001).listed, pools.listed).length).toBeLessThan(POOL_SIZES.listed);
});

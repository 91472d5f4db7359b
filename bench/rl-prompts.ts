/**
 * Fresh RL questions for `bench:rl`: new Last Letter and Coin Flip questions recombined from the words and people of
 * the train split's questions, with their gold answers computed. RL needs questions and gold answers, not
 * rationales, so a policy can be refined on questions it was not distilled on (the runner drops any that are also
 * test questions).
 */
import type { Example } from '../lib/data/types';
import { Random } from '../lib/random';

/** The quoted words of a last-letter question: `... in "Whitney Erika Tj Benito" and concatenate them.` */
const QUOTED_WORDS = /"([^"]+)"/;
/** One person's turn in a coin-flip question: `Whitney flips the coin.` or `Erika does not flip the coin.` */
const COIN_TURN = /([A-Z][\w'-]*(?: [A-Z][\w'-]*)*) (flips|does not flip) the coin\./g;

function lastLetterQuestions(train: readonly Example[], count: number, random: Random): Example[] {
  const template = train.find((e) => QUOTED_WORDS.test(e.question));
  if (!template) throw new Error('recombinedQuestions: no train question quotes its words');
  const wordsPerQuestion = QUOTED_WORDS.exec(template.question)![1].split(' ').length;
  const pool = [...new Set(train.flatMap((e) => QUOTED_WORDS.exec(e.question)?.[1].split(' ') ?? []))];
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: wordsPerQuestion }, () => random.pick(pool));
    return {
      ...template, id: `recombined-last_letters/${i}`, question: template.question.replace(QUOTED_WORDS, `"${words.join(' ')}"`),
      answers: [words.map((w) => w[w.length - 1]).join('')],
    };
  });
}

function coinFlipQuestions(train: readonly Example[], count: number, random: Random): Example[] {
  const turnsOf = (e: Example) => [...e.question.matchAll(COIN_TURN)];
  const template = train.find((e) => turnsOf(e).length > 0);
  if (!template) throw new Error('recombinedQuestions: no train question has a coin-flip turn');
  const turns = turnsOf(template);
  const pool = [...new Set(train.flatMap((e) => turnsOf(e).map((m) => m[1])))];
  const [head, tail] = [template.question.slice(0, turns[0].index), template.question.slice(turns.at(-1)!.index! + turns.at(-1)![0].length)];
  return Array.from({ length: count }, (_, i) => {
    const people = random.shuffle(pool).slice(0, turns.length);
    const flips = people.map(() => random.next() < 0.5);
    const sentences = people.map((p, j) => `${p} ${flips[j] ? 'flips' : 'does not flip'} the coin.`);
    const heads = flips.filter(Boolean).length % 2 === 0;
    return { ...template, id: `recombined-coin_flip/${i}`, question: `${head}${sentences.join(' ')}${tail}`, answers: [heads ? 'yes' : 'no'] };
  });
}

/** `count` new questions of the train split's task (`last_letters` or `coin_flip`), seeded. */
export function recombinedQuestions(dataset: 'last_letters' | 'coin_flip', train: readonly Example[], count: number, seed: number): Example[] {
  const random = new Random(seed);
  return dataset === 'last_letters' ? lastLetterQuestions(train, count, random) : coinFlipQuestions(train, count, random);
}

/**
 * Fresh RL questions for `bench:rl`: new Last Letter and Coin Flip questions recombined from the train split's
 * questions, with their gold answers computed. RL needs questions and gold answers, not rationales, so a policy can
 * be refined on questions it was not distilled on (the runner drops any that are also test questions).
 *
 * The names in them are the train split's own (`train`), `novel` ones, made letter by letter from the train split's
 * names (none of which they repeat), or `listed` real names from a names list that no question of the dataset has.
 * The test split's names are almost all new to the student (on Last Letter 1% of the test questions' words occur in
 * the train split), and its errors are names miscopied, so only new names make questions like the ones it fails.
 */
import type { Example } from '../lib/data/types';
import { Random } from '../lib/random';

/** The quoted words of a last-letter question: `... in "Whitney Erika Tj Benito" and concatenate them.` */
const QUOTED_WORDS = /"([^"]+)"/;
/** One person's turn in a coin-flip question: `Whitney flips the coin.` or `Erika does not flip the coin.` */
const COIN_TURN = /([A-Z][\w'-]*(?: [A-Z][\w'-]*)*) (flips|does not flip) the coin\./g;
const turnsOf = (e: Example) => [...e.question.matchAll(COIN_TURN)];

/** The names of the train split's questions: Last Letter's quoted words, Coin Flip's people. */
export function trainNames(dataset: 'last_letters' | 'coin_flip', train: readonly Example[]): string[] {
  const names = dataset === 'last_letters'
    ? train.flatMap((e) => QUOTED_WORDS.exec(e.question)?.[1].split(' ') ?? [])
    : train.flatMap((e) => turnsOf(e).map((m) => m[1]));
  return [...new Set(names)];
}

const NOVEL_LENGTH = { min: 3, max: 12 };

/**
 * `count` distinct names drawn letter by letter from an order-2 Markov chain fitted to `pool` (each letter given the
 * two before it, as in the pool's names), none in `pool` or `exclude`; seeded.
 */
export function novelNames(pool: readonly string[], count: number, seed: number, exclude: ReadonlySet<string> = new Set()): string[] {
  const next = new Map<string, string[]>();
  for (const name of pool) {
    const padded = `^^${name}$`;
    for (let i = 2; i < padded.length; i++) {
      const context = padded.slice(i - 2, i);
      next.set(context, [...(next.get(context) ?? []), padded[i]]);
    }
  }
  const random = new Random(seed);
  const known = new Set([...pool, ...exclude]);
  const made = new Set<string>();
  for (let attempt = 0; made.size < count; attempt++) {
    if (attempt > 100 * count) throw new Error(`novelNames: only ${made.size} of ${count} new names from a pool of ${pool.length}`);
    let context = '^^';
    let name = '';
    while (name.length <= NOVEL_LENGTH.max) {
      const letter = random.pick(next.get(context)!);
      if (letter === '$') break;
      name += letter;
      context = context[1] + letter;
    }
    if (name.length >= NOVEL_LENGTH.min && name.length <= NOVEL_LENGTH.max && !known.has(name)) made.add(name);
  }
  return [...made];
}

/** The names list (`data/names/first-names.txt`: English first names, one per line; 73% of Last Letter's names are in it). */
export const NAMES_LIST = 'names/first-names.txt';

/**
 * `count` distinct real names from `list`, none in `exclude`, each drawn at a length drawn from `lengthsOf` (so
 * the names are as long as the dataset's: the list's not in Last Letter run 0.5 letters longer); seeded.
 */
export function listedNames(list: readonly string[], lengthsOf: readonly string[], count: number, seed: number, exclude: ReadonlySet<string>): string[] {
  const byLength = new Map<number, string[]>();
  for (const name of list) {
    if (exclude.has(name)) continue;
    const same = byLength.get(name.length);
    if (same) same.push(name);
    else byLength.set(name.length, [name]);
  }
  const random = new Random(seed);
  const made = new Set<string>();
  for (let attempt = 0; made.size < count; attempt++) {
    if (attempt > 100 * count) throw new Error(`listedNames: only ${made.size} of ${count} names of the dataset's lengths in a list of ${list.length}`);
    const candidates = byLength.get(random.pick(lengthsOf).length);
    if (candidates) made.add(random.pick(candidates));
  }
  return [...made];
}

function lastLetterQuestions(train: readonly Example[], names: readonly string[], count: number, random: Random): Example[] {
  const template = train.find((e) => QUOTED_WORDS.test(e.question));
  if (!template) throw new Error('recombinedQuestions: no train question quotes its words');
  const wordsPerQuestion = QUOTED_WORDS.exec(template.question)![1].split(' ').length;
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: wordsPerQuestion }, () => random.pick(names));
    return {
      ...template, id: `recombined-last_letters/${i}`, question: template.question.replace(QUOTED_WORDS, `"${words.join(' ')}"`),
      answers: [words.map((w) => w[w.length - 1]).join('')],
    };
  });
}

function coinFlipQuestions(train: readonly Example[], names: readonly string[], count: number, random: Random): Example[] {
  const template = train.find((e) => turnsOf(e).length > 0);
  if (!template) throw new Error('recombinedQuestions: no train question has a coin-flip turn');
  const turns = turnsOf(template);
  const [head, tail] = [template.question.slice(0, turns[0].index), template.question.slice(turns.at(-1)!.index! + turns.at(-1)![0].length)];
  return Array.from({ length: count }, (_, i) => {
    const people = random.shuffle(names).slice(0, turns.length);
    const flips = people.map(() => random.next() < 0.5);
    const sentences = people.map((p, j) => `${p} ${flips[j] ? 'flips' : 'does not flip'} the coin.`);
    const heads = flips.filter(Boolean).length % 2 === 0;
    return { ...template, id: `recombined-coin_flip/${i}`, question: `${head}${sentences.join(' ')}${tail}`, answers: [heads ? 'yes' : 'no'] };
  });
}

/** `count` new questions of the train split's task (`last_letters` or `coin_flip`) over `names` (default the train split's), seeded. */
export function recombinedQuestions(dataset: 'last_letters' | 'coin_flip', train: readonly Example[], count: number, seed: number, names = trainNames(dataset, train)): Example[] {
  const random = new Random(seed);
  return dataset === 'last_letters' ? lastLetterQuestions(train, names, count, random) : coinFlipQuestions(train, names, count, random);
}

/** How many names each pool of {@link namePools} holds. */
export const POOL_SIZES = { novel: 2000, validation: 600, listed: 800 };

/** One distillation seed's names for fresh questions; the validation pools share no name with the RL pools. */
export interface NamePools {
  /** Novel names for the RL questions (`--prompts novel`; seed d). */
  novel: string[];
  /** Other novel names, for `--validation novel` (seed `validationSeed`). */
  validationNovel: string[];
  /** Listed names in no question of the dataset and not in `novel`, for `--validation names` (seed `validationSeed`). */
  validationListed: string[];
  /** Listed names in no question of the dataset and in neither validation pool, for the RL questions (`--prompts listed`; seed d). */
  listed: string[];
}

/**
 * The name pools of distillation seed `distillSeed`: novel names made from the train split's names, and real names
 * from `list` of the train split's lengths that no question of the dataset has (the test split is read only to
 * leave its names out).
 */
export function namePools(dataset: 'last_letters' | 'coin_flip', split: { train: readonly Example[]; test: readonly Example[] }, list: readonly string[], distillSeed: number, validationSeed: number): NamePools {
  const train = trainNames(dataset, split.train);
  const novel = novelNames(train, POOL_SIZES.novel, distillSeed);
  const validationNovel = novelNames(train, POOL_SIZES.validation, validationSeed, new Set(novel));
  const inDataset = [...train, ...trainNames(dataset, split.test)];
  const validationListed = listedNames(list, train, POOL_SIZES.validation, validationSeed, new Set([...inDataset, ...novel]));
  const listed = listedNames(list, train, POOL_SIZES.listed, distillSeed, new Set([...inDataset, ...validationNovel, ...validationListed]));
  return { novel, validationNovel, validationListed, listed };
}

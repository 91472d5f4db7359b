import { Random } from '../random';
import type { Example, Paragraph } from './types';

/** Reasoning tasks the project generates itself, so the default experiment needs no download. */
export type SyntheticTask = 'last_letters' | 'coin_flip' | 'multihop';

export interface SyntheticOptions {
  /** Number of questions. */
  size: number;
  /** Words per name (last_letters), people per question (coin_flip), hops per question (multihop, 1-3). */
  steps: number;
  seed: number;
}

/**
 * One correct reasoning step, kept structured so a teacher can write it out, or get it wrong on purpose.
 * `value` is the intermediate result after the step (a letter, a coin side, an entity).
 */
export interface ReasoningStep {
  subject: string;
  value: string;
  /** For coin flips: whether this person flips. */
  acts?: boolean;
}

const NAMES = [
  'Jeff', 'Jen', 'Giselle', 'Noel', 'Rena', 'Devon', 'Rosalinda', 'Paulina', 'Elon', 'Musk', 'Larry', 'Page',
  'Sergey', 'Brin', 'Bill', 'Gates', 'Tim', 'Cook', 'Ka', 'Sherrie', 'Amy', 'Lenny', 'Maria', 'Ali', 'Dora',
  'Kirk', 'Brandon', 'Cheryl', 'Aisha', 'Omar', 'Ivan', 'Zoe', 'Hugo', 'Petra', 'Yusuf', 'Nadia', 'Felix', 'Greta',
  'Tariq', 'Wendy', 'Quinn', 'Olga', 'Marco', 'Elsa', 'Raj', 'Lucia', 'Boris', 'Hana', 'Victor', 'Ines',
];
const PLACE_SYLLABLES = ['var', 'lo', 'mi', 'ra', 'den', 'tul', 'ko', 'sa', 'ne', 'bri', 'thu', 'gal', 'pe', 'zor', 'an'];

function capitalize(word: string): string {
  return word[0].toUpperCase() + word.slice(1);
}

/** A made-up place name, so questions cannot be answered from world knowledge. */
export function placeName(random: Random): string {
  const syllables = 2 + random.int(2);
  return capitalize(Array.from({ length: syllables }, () => random.pick(PLACE_SYLLABLES)).join(''));
}

function lastLetters(random: Random, steps: number, index: number): Example {
  const words = Array.from({ length: steps }, () => random.pick(NAMES));
  const answer = words.map((w) => w[w.length - 1]).join('');
  return {
    id: `synthetic-last_letters/${index}`,
    dataset: 'synthetic-last_letters',
    question: `Take the last letters of each words in "${words.join(' ')}" and concatenate them.`,
    answers: [answer],
    answerType: 'text',
    metadata: { steps: words.map((w) => ({ subject: w, value: w[w.length - 1] })) },
  };
}

function coinFlip(random: Random, steps: number, index: number): Example {
  const people = random.shuffle(NAMES).slice(0, steps);
  let heads = true;
  const reasoning: ReasoningStep[] = people.map((person) => {
    const acts = random.next() < 0.5;
    if (acts) heads = !heads;
    return { subject: person, acts, value: heads ? 'heads' : 'tails' };
  });
  const sentences = reasoning.map((s) => `${s.subject} ${s.acts ? 'flips' : 'does not flip'} the coin.`);
  return {
    id: `synthetic-coin_flip/${index}`,
    dataset: 'synthetic-coin_flip',
    question: `A coin is heads up. ${sentences.join(' ')} Is the coin still heads up? Note that "flip" here means "reverse".`,
    answers: [heads ? 'yes' : 'no'],
    answerType: 'yes-no',
    metadata: { steps: reasoning },
  };
}

const RELATIONS = [
  { fact: (a: string, b: string) => `${a} was born in ${b}.`, question: (a: string) => `Where was ${a} born?` },
  { fact: (a: string, b: string) => `${a} is a town in the region of ${b}.`, question: (a: string) => `In which region is ${a}?` },
  { fact: (a: string, b: string) => `The region of ${a} lies in the country of ${b}.`, question: (a: string) => `In which country is ${a}?` },
];

/** Multi-hop questions over generated facts: person -> town -> region -> country, with distractor chains. */
function multihop(random: Random, steps: number, index: number): Example {
  const hops = Math.min(Math.max(steps, 1), RELATIONS.length);
  const chain = (person: string) => [person, ...Array.from({ length: hops }, () => placeName(random))];
  const [person, ...distractors] = random.shuffle(NAMES).slice(0, 3);
  const gold = chain(person);
  const paragraphs: Paragraph[] = [];
  for (const [entities, supporting] of [[gold, true], ...distractors.map((d) => [chain(d), false] as const)] as const) {
    for (let h = 0; h < hops; h++) {
      paragraphs.push({ title: entities[h], text: RELATIONS[h].fact(entities[h], entities[h + 1]), supporting });
    }
  }
  const question = hops === 1 ? RELATIONS[0].question(person)
    : hops === 2 ? `In which region was ${person} born?` : `In which country was ${person} born?`;
  return {
    id: `synthetic-multihop/${index}`,
    dataset: 'synthetic-multihop',
    question,
    answers: [gold[hops]],
    answerType: 'text',
    context: random.shuffle(paragraphs),
    metadata: { steps: gold.slice(0, hops).map((subject, h) => ({ subject, value: gold[h + 1] })) },
  };
}

const GENERATORS: Record<SyntheticTask, (random: Random, steps: number, index: number) => Example> = {
  last_letters: lastLetters,
  coin_flip: coinFlip,
  multihop,
};

/**
 * Generate a reasoning task. Each example's `metadata.steps` holds its correct reasoning steps
 * ({@link ReasoningStep}[]), from which the offline teacher writes rationales.
 */
export function generateSyntheticTask(task: SyntheticTask, options: SyntheticOptions): Example[] {
  const generate = GENERATORS[task];
  if (!generate) throw new Error(`unknown synthetic task "${task}" (known: ${Object.keys(GENERATORS).join(', ')})`);
  const random = new Random(options.seed);
  return Array.from({ length: options.size }, (_, i) => generate(random, options.steps, i));
}

/** The correct reasoning steps of a generated example. */
export function reasoningSteps(example: Example): ReasoningStep[] {
  const steps = example.metadata?.steps;
  if (!Array.isArray(steps)) throw new Error(`example ${example.id} has no metadata.steps (not a synthetic example)`);
  return steps as ReasoningStep[];
}

/**
 * Exact checks of reasoning steps that can be verified from the question alone:
 * - last letters: `the last letter of "Jeff" is "f"` and `the last letter of the second word is "n"`;
 * - arithmetic: `3 + 4 * 2 = 11` (the left side evaluated with mathjs);
 * - coin flips: `Jen flips the coin, so the coin is now tails up` against the flips the question lists.
 * Each check yields true (step right) or false (step wrong); sentences with nothing checkable yield nothing.
 */
import { evaluate } from 'mathjs';
import type { Example } from '../lib/data/types';
import { sentences } from './text';

/** One checked step: the sentence and whether it holds. */
export interface StepCheck {
  kind: 'last-letter' | 'arithmetic' | 'coin-flip';
  sentence: string;
  correct: boolean;
}

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth'];
const LAST_LETTER_OF_WORD = /last letter of (?:the word )?"?([A-Za-z]+)"? is "?([A-Za-z])"?/gi;
const LAST_LETTER_OF_ORDINAL = new RegExp(`last letter of the (${ORDINALS.join('|')}) word is "?([A-Za-z])"?`, 'gi');

function lastLetterChecks(text: string, question: string): StepCheck[] {
  const quoted = /"([^"]+)"/.exec(question)?.[1].split(/\s+/) ?? [];
  const checks: StepCheck[] = [];
  for (const sentence of sentences(text)) {
    for (const [, word, letter] of sentence.matchAll(LAST_LETTER_OF_ORDINAL)) {
      const target = quoted[ORDINALS.indexOf(word.toLowerCase())];
      checks.push({ kind: 'last-letter', sentence, correct: target !== undefined && target.slice(-1).toLowerCase() === letter.toLowerCase() });
    }
    for (const [, word, letter] of sentence.matchAll(LAST_LETTER_OF_WORD)) {
      if (word.toLowerCase() === 'the') continue; // "last letter of the first word" is handled above
      checks.push({ kind: 'last-letter', sentence, correct: word.slice(-1).toLowerCase() === letter.toLowerCase() });
    }
  }
  return checks;
}

const NUMBER = String.raw`\d+(?:,\d{3})*(?:\.\d+)?`;
const EQUATION = new RegExp(String.raw`((?:\(\s*)*${NUMBER}(?:\s*\)*\s*[-+*/×÷]\s*\(*\s*${NUMBER}\s*\)*)+)\s*=\s*(-?${NUMBER})`, 'g');

function arithmeticChecks(text: string): StepCheck[] {
  const checks: StepCheck[] = [];
  for (const sentence of sentences(text)) {
    for (const [, left, right] of sentence.matchAll(EQUATION)) {
      const expression = left.replace(/,(?=\d{3})/g, '').replace(/×/g, '*').replace(/÷/g, '/');
      let value: number;
      try {
        value = Number(evaluate(expression));
      } catch {
        continue; // unbalanced parentheses and the like: not a checkable step
      }
      const claimed = Number(right.replace(/,/g, ''));
      checks.push({ kind: 'arithmetic', sentence, correct: Math.abs(value - claimed) <= 1e-6 * Math.max(1, Math.abs(claimed)) });
    }
  }
  return checks;
}

/** A name as a whole word, accents included (`\b` only knows ASCII letters): `Jesús` in "Jesús flips". */
export function nameMention(name: string): RegExp {
  return new RegExp(`(?<!\\p{L})${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\p{L})`, 'gu');
}

/** A person's action in a coin-flip question: `Jesús flips the coin`, `Jose Luis does not flip the coin`. */
export const COIN_FLIP_ACTION = /(\p{Lu}[\p{L}'-]*(?: \p{Lu}[\p{L}'-]*)*) (does not flip|flips) the coin/gu;

/** Whether a sentence says someone does not flip (`does not`, `doesn't`, `did not`, `didn't` flip). */
export function saysNoFlip(sentence: string): boolean {
  return /\b(?:does not|doesn't|did not|didn't) flip/i.test(sentence);
}

/** The flips a coin-flip question lists, in order, and the side it starts on (undefined if it is not one). */
export function coinFlipFacts(question: string): { start: 'heads' | 'tails'; flips: { name: string; flips: boolean }[] } | undefined {
  const start = /A coin is (heads|tails) up/i.exec(question)?.[1].toLowerCase() as 'heads' | 'tails' | undefined;
  if (!start) return undefined;
  const flips = [...question.matchAll(COIN_FLIP_ACTION)]
    .map(([, name, action]) => ({ name, flips: action === 'flips' }));
  return { start, flips };
}

function coinFlipChecks(text: string, question: string): StepCheck[] {
  const facts = coinFlipFacts(question);
  if (!facts) return [];
  const checks: StepCheck[] = [];
  for (const sentence of sentences(text)) {
    const index = facts.flips.findIndex(({ name }) => nameMention(name).test(sentence));
    if (index < 0) continue;
    const noFlip = saysNoFlip(sentence);
    const saysFlip = !noFlip && /\bflip(s|ped)\b/i.test(sentence);
    if (noFlip || saysFlip) checks.push({ kind: 'coin-flip', sentence, correct: saysFlip === facts.flips[index].flips });
    const side = /\b(heads|tails)(?: up)?\b/i.exec(sentence.split(/\b(?:so|now|then|which)\b/i).slice(1).join(' '))?.[1].toLowerCase();
    if (side) {
      const flipsSoFar = facts.flips.slice(0, index + 1).filter((f) => f.flips).length;
      const truth = flipsSoFar % 2 === 0 ? facts.start : facts.start === 'heads' ? 'tails' : 'heads';
      checks.push({ kind: 'coin-flip', sentence, correct: side === truth });
    }
  }
  return checks;
}

/** Every checkable step of a rationale for this example. */
export function checkSteps(example: Example, rationale: string): StepCheck[] {
  return [
    ...lastLetterChecks(rationale, example.question),
    ...arithmeticChecks(rationale),
    ...coinFlipChecks(rationale, example.question),
  ];
}

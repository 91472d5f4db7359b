import type { AnswerType, Choice, Example } from './types';

/** Options for {@link parseAnswer}. */
export interface ParseAnswerOptions {
  /** The question's options: their labels bound the letters accepted, and their texts can be matched. */
  choices?: readonly Choice[];
  /** A phrase after which the answer follows; default: "answer ... is", "answer:", "####". */
  trigger?: string | RegExp;
}

/**
 * Answer triggers as zero-shot-CoT's stage 2 and common few-shot prompts write them: "Therefore, the answer
 * (arabic numerals) is", "among A through E, the answer is", "So the answer is", "Answer:", GSM8K's "####".
 */
const DEFAULT_TRIGGER = /answer(?:\s*\([^)]*\))?\s*(?:is\s*:?|:)|####/gi;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A stretch of text to look for the answer in, and which candidate there is the answer. */
interface AnswerRegion {
  region: string;
  pick: 'first' | 'last';
}

/**
 * Where the answer may be, most likely first. After a trigger the answer is the first candidate (zero-shot-CoT's
 * rule); triggers are tried from the last one back, since a model may restate it ("The answer (in words) is
 * two."). With no trigger at all, the last candidate in the whole text (a rationale ends with its answer).
 */
function answerRegions(text: string, trigger: string | RegExp | undefined): AnswerRegion[] {
  const pattern =
    trigger === undefined ? DEFAULT_TRIGGER
    : typeof trigger === 'string' ? new RegExp(escapeRegExp(trigger), 'gi')
    : new RegExp(trigger.source, trigger.flags.includes('g') ? trigger.flags : trigger.flags + 'g');
  const ends = [...text.matchAll(pattern)].map((match) => match.index + match[0].length);
  if (ends.length === 0) return [{ region: text, pick: 'last' }];
  return ends.reverse().map((end) => ({ region: text.slice(end), pick: 'first' }));
}

function pickCandidate<T>(candidates: readonly T[], pick: 'first' | 'last'): T | undefined {
  return pick === 'first' ? candidates[0] : candidates[candidates.length - 1];
}

/** A number in canonical form: no thousands separators, no trailing zeros ("3.0" -> "3", "-0.50" -> "-0.5", "1,000" -> "1000"). */
export function canonicalNumber(text: string): string | undefined {
  const value = Number(text.replace(/,/g, ''));
  if (!Number.isFinite(value)) return undefined;
  return String(value);
}

function parseNumber(region: string, pick: 'first' | 'last'): string {
  // Commas are thousands separators here ("1,000"); units and "$" are simply not part of the match.
  const numbers = region.replace(/(\d),(?=\d)/g, '$1').match(/-?\d+(?:\.\d+)?|-?\.\d+/g) ?? [];
  const chosen = pickCandidate(numbers, pick);
  return chosen === undefined ? '' : (canonicalNumber(chosen) ?? '');
}

function parseChoice(region: string, pick: 'first' | 'last', choices: readonly Choice[] | undefined): string {
  const labels = choices?.length ? choices.map((c) => c.label) : ['A', 'B', 'C', 'D', 'E'];
  const alternatives = labels.map(escapeRegExp).join('|');
  // A label counts when written as "(C)" / "C)" or standing alone before punctuation or the end ("C.", "C,"),
  // not as the article "A" at the start of a sentence.
  const labelPattern = new RegExp(`\\((${alternatives})\\)|\\b(${alternatives})(?:\\)|(?=[.,:;!?]|\\s*$|\\s*\\n))`, 'g');
  const found: { at: number; label: string }[] = [];
  for (const match of region.matchAll(labelPattern)) found.push({ at: match.index, label: match[1] ?? match[2] });
  for (const choice of choices ?? []) {
    const text = choice.text.trim();
    if (text === '') continue;
    for (const match of region.matchAll(new RegExp(`(?<![\\w])${escapeRegExp(text)}(?![\\w])`, 'gi'))) {
      found.push({ at: match.index, label: choice.label });
    }
  }
  found.sort((a, b) => a.at - b.at);
  return pickCandidate(found, pick)?.label ?? '';
}

function parseYesNo(region: string, pick: 'first' | 'last'): string {
  const words = region.toLowerCase().match(/\b(?:yes|no)\b/g) ?? [];
  return pickCandidate(words, pick) ?? '';
}

function parseText(region: string): string {
  const firstLine = region.trim().split('\n')[0] ?? '';
  // Wrapping quotes and a closing period go, in either order: `"fnel".` and `"fnel."` both give `fnel`.
  return firstLine.replace(/^[\s"'“‘]+/, '').replace(/[\s."'”’]+$/, '');
}

/**
 * Extract the answer from generated text the way zero-shot-CoT did: find the answer trigger, then read a number
 * (commas removed, units ignored, canonical form), a choice letter (or an option's text), yes/no, or free text
 * (first line, trimmed, quotes and trailing period removed). Returns '' when nothing answer-like is found.
 */
export function parseAnswer(text: string, answerType: AnswerType, options: ParseAnswerOptions = {}): string {
  for (const { region, pick } of answerRegions(text, options.trigger)) {
    const answer = parseRegion(region, pick, answerType, options.choices);
    if (answer !== '') return answer;
  }
  return '';
}

function parseRegion(region: string, pick: 'first' | 'last', answerType: AnswerType, choices: readonly Choice[] | undefined): string {
  switch (answerType) {
    case 'number':
      return parseNumber(region, pick);
    case 'choice':
      return parseChoice(region, pick, choices);
    case 'yes-no':
      return parseYesNo(region, pick);
    case 'text':
      return parseText(pick === 'first' ? region : lastLine(region));
  }
}

/** Without a trigger, free text's answer is taken to be its last non-blank line. */
function lastLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

/**
 * SQuAD answer normalisation: lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace.
 */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter((token) => token !== '')
    .join(' ');
}

/** 1 if the normalised prediction equals any normalised gold answer, else 0. */
export function exactMatch(prediction: string, golds: readonly string[]): number {
  const normalized = normalizeAnswer(prediction);
  return golds.some((gold) => normalizeAnswer(gold) === normalized) ? 1 : 0;
}

/**
 * Token-level F1 between prediction and gold after SQuAD normalisation, max over gold aliases:
 * precision = common / |prediction tokens|, recall = common / |gold tokens|, F1 = 2PR / (P + R), where `common`
 * counts shared tokens with multiplicity. If either side has no tokens, F1 is 1 when both are empty, else 0.
 */
export function f1(prediction: string, golds: readonly string[]): number {
  const predicted = normalizeAnswer(prediction).split(' ').filter(Boolean);
  let best = 0;
  for (const gold of golds) {
    const expected = normalizeAnswer(gold).split(' ').filter(Boolean);
    if (predicted.length === 0 || expected.length === 0) {
      best = Math.max(best, predicted.length === expected.length ? 1 : 0);
      continue;
    }
    const counts = new Map<string, number>();
    for (const token of expected) counts.set(token, (counts.get(token) ?? 0) + 1);
    let common = 0;
    for (const token of predicted) {
      const left = counts.get(token) ?? 0;
      if (left > 0) {
        common++;
        counts.set(token, left - 1);
      }
    }
    if (common === 0) continue;
    const precision = common / predicted.length;
    const recall = common / expected.length;
    best = Math.max(best, (2 * precision * recall) / (precision + recall));
  }
  return best;
}

/** Numeric equality up to a relative tolerance of 1e-6 (so "3.0" equals "3" and "0.1+0.2" rounding is forgiven). */
function numbersEqual(a: string, b: string): boolean {
  const x = Number(a.replace(/,/g, ''));
  const y = Number(b.replace(/,/g, ''));
  if (a.trim() === '' || b.trim() === '' || !Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y));
}

/**
 * Score an already-parsed prediction against an example's gold answers: 1 or 0 by numeric match, choice
 * letter, yes/no, or SQuAD-normalised exact match for free text.
 */
export function scoreAnswer(prediction: string, example: Pick<Example, 'answers' | 'answerType'>): number {
  const predicted = prediction.trim();
  switch (example.answerType) {
    case 'number':
      return example.answers.some((gold) => numbersEqual(predicted, gold)) ? 1 : 0;
    case 'choice':
    case 'yes-no':
      return predicted !== '' && example.answers.some((gold) => gold.trim().toLowerCase() === predicted.toLowerCase()) ? 1 : 0;
    case 'text':
      return exactMatch(predicted, example.answers);
  }
}

/** Parse generated text with the example's answer type and choices, then score it: {@link parseAnswer} + {@link scoreAnswer}. */
export function scoreGeneration(text: string, example: Pick<Example, 'answers' | 'answerType' | 'choices'>, trigger?: string | RegExp): number {
  return scoreAnswer(parseAnswer(text, example.answerType, { choices: example.choices, trigger }), example);
}

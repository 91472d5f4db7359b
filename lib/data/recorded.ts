import { parseAnswer } from './answers';
import type { Choice, Example } from './types';

/**
 * Matching recorded rationales (from any source) to the project's examples: recorded prompts are parsed back into a
 * question stem and its options, matched on normalised text, and multiple-choice answers are carried over through
 * the options' text, never their letters (a source may list the options in another order).
 */

/** A question as a recorded prompt shows it: its stem and, for multiple choice, the options in the recorded order. */
export interface RecordedQuestion {
  stem: string;
  options?: Choice[];
}

/** Text before the options that BIG-bench-style prompts add ("Which choice is true ?"), not part of the question. */
const CUE = /(?:^|\s)which (?:choice|of the following|option) is (?:true|correct)\s*\?\s*$/i;
/** The line that introduces the options: "Answer Choices:", "Answer choices:", "Options:", "Choices:". */
const OPTIONS_HEADER = /(?:^|\s)(?:answer choices|options|choices)\s*:\s*(?=\(?[A-Za-z]\))/gi;
/** One option label: "(A)" or "A)" at the start or after whitespace or a separator (either case). */
const OPTION_LABEL = /(?<=^|[\s,;])\(?([A-Za-z])\)\s*/g;

/**
 * Parse a recorded prompt: drop the "Q:" / "Question:" wrapper and anything from a trailing "A:" line on ("A:",
 * "A: Let's think step by step."), split off the options after "Answer Choices:" (or "Options:"), each
 * "(A) text" possibly separated by commas, and drop a BIG-bench cue before them ("Which choice is true ?").
 */
export function parseRecordedQuestion(prompt: string): RecordedQuestion {
  let text = prompt.replace(/^\s*(?:Q|Question)\s*:\s*/i, '');
  const answerLine = text.search(/\n\s*A\s*:/);
  if (answerLine >= 0) text = text.slice(0, answerLine);
  text = text.replace(/\s+A\s*:\s*$/, '');
  const headers = [...text.matchAll(OPTIONS_HEADER)];
  const header = headers[headers.length - 1];
  if (!header) return { stem: stripCue(text) };
  const stem = stripCue(text.slice(0, header.index));
  const list = text.slice(header.index! + header[0].length);
  // Labels run A, B, C, ... in order; a letter in parentheses inside an option's text ("f(x)") is not one.
  // The first label sets the case: "(a) ... (b)" or "(A) ... (B)", so "(a - b)" inside an option is not label B.
  const labels: RegExpMatchArray[] = [];
  for (const match of list.matchAll(OPTION_LABEL)) {
    const first = labels.length ? labels[0][1] : match[1];
    const next = String.fromCharCode(first.charCodeAt(0) - (first.toUpperCase() === first ? 65 : 97) + labels.length + (first.toUpperCase() === first ? 65 : 97));
    if (match[1] === next) labels.push(match);
  }
  const options = labels.map((match, i) => {
    const end = i + 1 < labels.length ? labels[i + 1].index! : list.length;
    const raw = list.slice(match.index! + match[0].length, end);
    return { label: match[1].toUpperCase(), text: raw.trim().replace(/\s*(?:,|;|,?\s+or)$/i, '').replace(/\.$/, '').trim() };
  });
  return options.length >= 2 ? { stem, options } : { stem: stripCue(text) };
}

function stripCue(text: string): string {
  return text.replace(CUE, '').trim();
}

/** Text for matching: Unicode-normalised, lowercase, without whitespace (sources differ in spacing and line breaks). */
export function matchKey(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, '');
}

/** An option's text for matching: {@link matchKey} without a closing period. */
function optionKey(text: string): string {
  return matchKey(text).replace(/\.$/, '');
}

const paragraphsKey = (context: readonly { text: string }[]) => context.map((p) => matchKey(p.text)).sort().join('\u0000');

/** A recorded question to find: its prompt text, optionally its context paragraphs. */
export interface RecordedLookup {
  question: string;
  context?: readonly { text: string }[];
}

/** The outcome of matching one recorded question. */
export type MatchResult =
  | { status: 'matched'; example: Example; recorded: RecordedQuestion; labelMap?: Map<string, string> }
  | { status: 'unmatched' | 'ambiguous'; reason: string };

/**
 * Finds the example a recorded question belongs to. Candidates share the question's stem; recorded options narrow
 * them to examples with the same option texts (in any order), recorded context to examples with the same
 * paragraphs. Exact repeats (same question, options and gold) are handed out in order; candidates that still differ
 * in their gold answer or options are ambiguous.
 */
export class ExampleMatcher {
  private readonly byStem = new Map<string, Example[]>();
  private readonly used = new Set<string>();

  constructor(examples: readonly Example[]) {
    for (const example of examples) {
      const key = matchKey(parseRecordedQuestion(example.question).stem);
      const list = this.byStem.get(key) ?? [];
      list.push(example);
      this.byStem.set(key, list);
    }
  }

  match(lookup: RecordedLookup): MatchResult {
    const recorded = parseRecordedQuestion(lookup.question);
    let candidates = this.byStem.get(matchKey(recorded.stem)) ?? [];
    if (candidates.length === 0) return { status: 'unmatched', reason: 'question not found among the examples' };
    if (recorded.options) {
      const wanted = recorded.options.map((o) => optionKey(o.text)).sort().join('\u0000');
      const withOptions = candidates.filter((e) => e.choices?.length && e.choices.map((c) => optionKey(c.text)).sort().join('\u0000') === wanted);
      if (candidates.some((e) => e.choices?.length)) {
        if (withOptions.length === 0) return { status: 'unmatched', reason: `question found, but no example has the options ${recorded.options.map((o) => `(${o.label}) ${o.text}`).join(' ')}` };
        candidates = withOptions;
      }
    }
    if (lookup.context?.length && candidates.some((e) => e.context?.length)) {
      const wanted = paragraphsKey(lookup.context);
      candidates = candidates.filter((e) => e.context && paragraphsKey(e.context) === wanted);
      if (candidates.length === 0) return { status: 'unmatched', reason: 'question found, but no example has the same context paragraphs' };
    }
    const unused = candidates.filter((e) => !this.used.has(e.id));
    const pool = unused.length ? unused : candidates;
    const signature = (e: Example) => JSON.stringify([e.answers, e.choices?.map((c) => [c.label, optionKey(c.text)])]);
    if (new Set(pool.map(signature)).size > 1) {
      return { status: 'ambiguous', reason: `${pool.length} examples match (${pool.slice(0, 4).map((e) => e.id).join(', ')}) with different answers or options` };
    }
    const example = pool[0];
    this.used.add(example.id);
    return { status: 'matched', example, recorded, labelMap: labelMap(recorded.options, example.choices) };
  }
}

/** Recorded label -> the example's label, through the option texts; undefined when the orders agree or are unknown. */
function labelMap(recorded: readonly Choice[] | undefined, own: readonly Choice[] | undefined): Map<string, string> | undefined {
  if (!recorded?.length || !own?.length) return undefined;
  // Options with the same text (CommonsenseQA has a few) keep their own letter where it fits, else take the next free one.
  const taken = new Set<string>();
  const map = new Map<string, string>();
  const sameLetter = (o: Choice) => own.find((c) => c.label === o.label && optionKey(c.text) === optionKey(o.text));
  for (const o of recorded) {
    const target = sameLetter(o) ?? own.find((c) => !taken.has(c.label) && optionKey(c.text) === optionKey(o.text) && !recorded.some((r) => r.label === c.label && optionKey(r.text) === optionKey(c.text)));
    if (target) {
      map.set(o.label, target.label);
      taken.add(target.label);
    }
  }
  return [...map].every(([from, to]) => from === to) ? undefined : map;
}

/**
 * A recorded multiple-choice answer in the example's letters: parsed against the recorded options ("D", "(D)",
 * "(D) 09/08/2021" or the option's text), then mapped through the option text. Other answer types pass through.
 */
export function answerInExampleLetters(answer: string, match: Extract<MatchResult, { status: 'matched' }>): string {
  const { example, recorded, labelMap: map } = match;
  if (example.answerType !== 'choice') return answer;
  const parsed = parseAnswer(answer, 'choice', { choices: recorded.options ?? example.choices });
  return map?.get(parsed) ?? parsed;
}

/**
 * The rationale with its option letters rewritten to the example's order, so rationale, answer and gold agree:
 * "(D)" and "answer is D" / "option D" / "choice D" forms are replaced in one pass (no chained rewrites).
 */
export function rationaleInExampleLetters(rationale: string, map: Map<string, string> | undefined): string {
  if (!map) return rationale;
  const swap = (letter: string) => map.get(letter) ?? letter;
  return rationale.replace(
    /\(([A-Z])\)|\b(answer is|answer:|option|choice)(\s+)([A-Z])\b/g,
    (whole, paren: string | undefined, lead: string | undefined, space: string, letter: string | undefined) =>
      paren ? `(${swap(paren)})` : lead ? `${lead}${space}${swap(letter!)}` : whole,
  );
}

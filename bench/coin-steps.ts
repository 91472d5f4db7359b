/**
 * Recombined coin-flip rows for `bench:distill`: new questions (other people, other flips) whose rationales are
 * assembled from the steps of the teacher's own correct rationales, the coin-flip counterpart of
 * `letter-steps.ts`.
 *
 * A template is a kept rationale that walks through the people in question order, one step each, and states the
 * coin's side after every step, rightly (a step may also name the side before a flip: "if it was heads up, it is
 * now tails up"). A new row keeps the template's opening lines and wording; for each new person it takes one of the
 * template's steps with the same action (flips / does not flip), puts in the new name, and swaps heads <-> tails
 * where the new flips give the other side. The closing lines get heads <-> tails and yes <-> no swapped when the
 * final side differs from the template's. Every sentence is the teacher's; the combinations are new.
 */
import type { Example, RationaleRecord } from '../lib/data/types';
import { Random } from '../lib/random';
import { COIN_FLIP_ACTION, coinFlipFacts, nameMention, saysNoFlip } from '../rewards/steps';

type Side = 'heads' | 'tails';

/** One person's step: its lines with the person's name in them, the action, and the side it ends on. */
interface Step {
  name: string;
  flips: boolean;
  lines: string[];
  side: Side;
}

interface Template {
  example: Example;
  record: RationaleRecord;
  start: Side;
  opening: string[];
  steps: Step[];
  closing: string[];
  finalSide: Side;
}

const SIDE = /\b(heads|tails)\b/gi;
const other = (side: Side): Side => (side === 'heads' ? 'tails' : 'heads');
const sidesIn = (text: string): Side[] => [...text.matchAll(SIDE)].map((m) => m[1].toLowerCase() as Side);

const SWAPPED: Record<string, string> = { heads: 'tails', tails: 'heads', yes: 'no', no: 'yes' };
const SIDE_OR_ANSWER_WORD = /\b(?:heads|tails|yes|no)\b/gi;

/** Exchange heads and tails (and, with `answers`, yes and no), keeping capitals. */
function swapSides(text: string, answers: boolean): string {
  return text.replace(answers ? SIDE_OR_ANSWER_WORD : SIDE, (word) => {
    const swapped = SWAPPED[word.toLowerCase()];
    return word[0] === word[0].toUpperCase() ? swapped[0].toUpperCase() + swapped.slice(1) : swapped;
  });
}

/** A step's sides are right: the last is the side after it; a flip may name the side before it first. */
function sidesHold(sides: readonly Side[], flips: boolean, after: Side): boolean {
  if (sides.length === 0 || sides[sides.length - 1] !== after) return false;
  return sides.slice(0, -1).every((s) => s === (flips ? other(after) : after));
}

/** The template a kept rationale gives, or undefined when it does not walk through the people one step each. */
function parseTemplate(record: RationaleRecord, example: Example): Template | undefined {
  const facts = coinFlipFacts(example.question);
  if (!facts || facts.flips.length === 0 || new Set(facts.flips.map((f) => f.name)).size !== facts.flips.length) return undefined;
  const lines = record.rationale.split('\n');
  const peopleOn = (line: string) => facts.flips.flatMap((f, i) => (nameMention(f.name).test(line) ? [i] : []));
  const starts = lines.flatMap((line, i) => (peopleOn(line).length > 0 ? [i] : []));
  if (starts.length !== facts.flips.length) return undefined;
  const steps: Step[] = [];
  let side = facts.start;
  let end = 0;
  for (const [person, { name, flips }] of facts.flips.entries()) {
    const start = starts[person];
    const first = lines[start];
    if (peopleOn(first).join() !== String(person)) return undefined;
    if (flips === saysNoFlip(first) || !/\bflip/i.test(first)) return undefined;
    // The step runs to the next person's line; the last one takes at most the line right after it.
    end = person + 1 < starts.length ? starts[person + 1] : Math.min(start + (sidesIn(first).length > 0 ? 1 : 2), lines.length);
    const stepLines = lines.slice(start, end);
    if (stepLines.some((line) => /\b(?:yes|no|answer)\b/i.test(line))) return undefined;
    side = flips ? other(side) : side;
    if (!sidesHold(sidesIn(stepLines.join('\n')), flips, side)) return undefined;
    steps.push({ name, flips, lines: stepLines, side });
  }
  const closing = lines.slice(end);
  if (lines.slice(0, starts[0]).some((line) => sidesIn(line).some((s) => s !== facts.start))) return undefined;
  if (!closing.some((line) => sidesIn(line).length > 0 || /\b(?:yes|no)\b/i.test(line))) return undefined;
  return { example, record, start: facts.start, opening: lines.slice(0, starts[0]), steps, closing, finalSide: side };
}

/** The lines of one new step: a template step with the same action, renamed and set to the new side. */
function fillStep(step: Step, name: string, side: Side): string[] {
  return step.lines.map((line) => {
    const renamed = line.replace(nameMention(step.name), name);
    const sided = side === step.side ? renamed : swapSides(renamed, false);
    // "heads up again" is only true right after a flip back to heads.
    return step.flips && side === 'heads' ? sided : sided.replace(/\s+again\b/g, '');
  });
}

/**
 * `count` new coin-flip rows recombined from the teacher's correct rationales (ids `<template id>/recombined-<i>`),
 * with people drawn from `examples` (the train split) and flips drawn at random. Uses train-split records only.
 */
export function recombineCoinFlips(records: readonly RationaleRecord[], examples: readonly Example[], count: number, seed: number): { records: RationaleRecord[]; examples: Example[] } {
  const random = new Random(seed);
  const byId = new Map(examples.map((e) => [e.id, e]));
  const templates = records.flatMap((r) => {
    const example = byId.get(r.exampleId);
    const template = example && r.correct ? parseTemplate(r, example) : undefined;
    return template ? [template] : [];
  });
  const pool = [...new Set(examples.flatMap((e) => coinFlipFacts(e.question)?.flips.map((f) => f.name) ?? []))];
  const out = { records: [] as RationaleRecord[], examples: [] as Example[] };
  for (let i = 0, attempts = 0; i < count && templates.length > 0 && attempts < 10 * count; attempts++) {
    const people = random.pick(templates).steps.length;
    const flips = Array.from({ length: people }, () => random.next() < 0.5);
    const fitting = templates.filter((t) => t.steps.length === people && flips.every((f) => t.steps.some((s) => s.flips === f)));
    if (fitting.length === 0 || pool.length < people) continue;
    const template = random.pick(fitting);
    const names = random.shuffle(pool).slice(0, people);
    let side = template.start;
    const stepLines = flips.flatMap((flip, p) => {
      side = flip ? other(side) : side;
      const own = template.steps[p];
      const step = own.flips === flip ? own : random.pick(template.steps.filter((s) => s.flips === flip));
      return fillStep(step, names[p], side);
    });
    const closing = side === template.finalSide ? template.closing : template.closing.map((line) => swapSides(line, true));
    const answer = side === 'heads' ? 'yes' : 'no';
    let next = 0;
    const question = template.example.question.replace(COIN_FLIP_ACTION, () => {
      const p = next++;
      return `${names[p]} ${flips[p] ? 'flips' : 'does not flip'} the coin`;
    });
    const id = `${template.example.id}/recombined-${i++}`;
    out.examples.push({ ...template.example, id, question, answers: [answer] });
    out.records.push({
      ...template.record, exampleId: id, answer, strategy: 'recombined-steps',
      rationale: [...template.opening, ...stepLines, ...closing].join('\n'),
    });
  }
  return out;
}

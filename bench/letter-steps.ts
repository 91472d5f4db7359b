/**
 * Recombined last-letter rows for `bench:distill`: new questions whose rationales are assembled from the steps of the
 * teacher's own correct rationales (a cheap augmentation in the spirit of diverse reasoning, which needs several
 * teacher samples per question that the recorded files do not have).
 */
import type { Example, RationaleRecord } from '../lib/data/types';
import { Random } from '../lib/random';

/** One step of a last-letter rationale as the teacher writes it: `The last letter of "Jeff" is "f".` */
const LETTER_STEP = /^The last letter of "([^"]+)" is "([a-z])"\.$/i;

/**
 * New last-letter rows recombined from the teacher's own correct rationales: take a kept rationale made of quoted
 * steps, put in steps (word, letter) drawn from other kept rationales, and rebuild the question, the final answer
 * line and the answer from those steps. Every step and every sentence is the teacher's text; only the
 * combinations are new. Uses train-split records only.
 */
export function recombineLetterSteps(records: readonly RationaleRecord[], examples: readonly Example[], count: number, seed: number): { records: RationaleRecord[]; examples: Example[] } {
  const random = new Random(seed);
  const stepsOf = (r: RationaleRecord) => r.rationale.split('\n').map((line) => line.trim().match(LETTER_STEP)).filter((m) => m !== null);
  // Templates: rationales of quoted steps whose other lines quote nothing but the final answer.
  const templates = records.filter((r) => stepsOf(r).length >= 2 && r.rationale.includes(`"${r.answer}"`)
    && !r.rationale.split('\n').filter((line) => !LETTER_STEP.test(line.trim())).join('\n').replace(`"${r.answer}"`, '').includes('"'));
  const pool = templates.flatMap((r) => stepsOf(r).map((m) => ({ word: m[1], letter: m[2] })));
  const byId = new Map(examples.map((e) => [e.id, e]));
  const out = { records: [] as RationaleRecord[], examples: [] as Example[] };
  for (let i = 0; i < count && templates.length > 0; i++) {
    const template = random.pick(templates);
    const example = byId.get(template.exampleId)!;
    const steps = stepsOf(template).map(() => random.pick(pool));
    const answer = steps.map((s) => s.letter).join('');
    let next = 0;
    const rationale = template.rationale.split('\n').map((line) => {
      if (!LETTER_STEP.test(line.trim())) return line.replace(`"${template.answer}"`, `"${answer}"`);
      const step = steps[next++];
      return `The last letter of "${step.word}" is "${step.letter}".`;
    }).join('\n');
    const question = example.question.replace(/"[^"]*"/, `"${steps.map((s) => s.word).join(' ')}"`);
    const id = `${example.id}/recombined-${i}`;
    out.examples.push({ ...example, id, question, answers: [answer] });
    out.records.push({ ...template, exampleId: id, rationale, answer, strategy: 'recombined-steps' });
  }
  return out;
}

/**
 * Coin-flip rows with the people renamed, for `bench:distill`: every name of a question is replaced, in the question
 * and in the teacher's rationale alike, by another name seen in the train split. Who flips and so the answer do not
 * change; the student has to copy names from the question instead of remembering them.
 */
import type { Example, RationaleRecord } from '../lib/data/types';
import { Random } from '../lib/random';

/** The people of a coin-flip question: `A coin is heads up. Jeff flips the coin. Jen does not flip the coin. ...` */
const PERSON = /\. ([A-Z][a-z]+) (?:does not flip|flips) /g;

const namesIn = (question: string): string[] => [...question.matchAll(PERSON)].map((m) => m[1]);

/** `copies` renamed rows per record (ids `<id>/renamed-<copy>`); names come from `examples` (the train split). */
export function renameCoinFlipPeople(records: readonly RationaleRecord[], examples: readonly Example[], copies: number, seed: number): { records: RationaleRecord[]; examples: Example[] } {
  const random = new Random(seed);
  const byId = new Map(examples.map((e) => [e.id, e]));
  const pool = [...new Set(examples.flatMap((e) => namesIn(e.question)))];
  const out = { records: [] as RationaleRecord[], examples: [] as Example[] };
  for (let copy = 0; copy < copies; copy++) {
    for (const record of records) {
      const example = byId.get(record.exampleId)!;
      const names = [...new Set(namesIn(example.question))];
      if (names.length === 0 || pool.length < 2 * names.length) continue;
      const fresh = random.shuffle(pool.filter((n) => !names.includes(n))).slice(0, names.length);
      const renamed = new Map(names.map((name, i) => [name, fresh[i]]));
      // One pass over all names at once, so a new name is never renamed again.
      const pattern = new RegExp(`\\b(${names.join('|')})\\b`, 'g');
      const rename = (text: string) => text.replace(pattern, (name) => renamed.get(name)!);
      const id = `${example.id}/renamed-${copy}`;
      out.examples.push({ ...example, id, question: rename(example.question) });
      out.records.push({ ...record, exampleId: id, rationale: rename(record.rationale), strategy: 'renamed-people' });
    }
  }
  return out;
}

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../lib/data/jsonl';
import { readRationales } from '../../lib/data/rationales';
import { setConsoleLevel } from '../../lib/log/logger';
import { Random } from '../../lib/random';
import { generateRationales } from '../../lib/teacher/run';
import { zeroShotCoT } from '../../lib/teacher/strategies';
import { ArithmeticTeacher, sumExamples } from '../llm/support/arithmetic-teacher';
import { bundleCrashWriter, runAndKill } from './support/kill-loop';

// Large enough that 20 short runs cannot finish every example on a fast machine.
const COUNT = 1000;
const KILLS = 20;

beforeAll(() => setConsoleLevel('error'));

/** Finished ids (no duplicates allowed) and the records file, both as a reader after the crash sees them. */
function readState(outFile: string): { done: string[]; records: string[] } {
  const done = existsSync(`${outFile}.done`) ? readJsonl(`${outFile}.done`, { allowTornLastLine: true, onWarning: () => {} }) as string[] : [];
  const records = existsSync(outFile) ? readRationales(outFile, { onWarning: () => {} }).map((r) => r.exampleId) : [];
  return { done, records };
}

it(`a teacher run killed ${KILLS} times at random points loses nothing, duplicates nothing and redoes no finished example`, async () => {
  const writer = bundleCrashWriter();
  const outFile = join(mkdtempSync(join(tmpdir(), 'rrl-kill-teacher-')), 'rationales.jsonl');
  const random = new Random(11);
  let doneBefore = 0;
  let interrupted = 0;
  for (let round = 0; round < KILLS; round++) {
    const run = await runAndKill(writer, ['teacher', outFile, String(COUNT)], random.int(60));
    if (run.killed) interrupted++;
    const { done, records } = readState(outFile);
    expect(new Set(done).size).toBe(done.length);
    expect(done.length).toBeGreaterThanOrEqual(doneBefore);
    // Every finished example has its record; a record without a "done" mark is an orphan the next run removes.
    const recorded = new Set(records);
    expect(done.filter((id) => !recorded.has(id))).toEqual([]);
    doneBefore = done.length;
  }
  expect(interrupted).toBeGreaterThan(KILLS / 2);
  expect(doneBefore).toBeLessThan(COUNT);

  const teacher = new ArithmeticTeacher();
  const examples = sumExamples(COUNT);
  const result = await generateRationales({ client: teacher, strategy: zeroShotCoT(), examples, outFile });
  expect(result).toMatchObject({ skipped: doneBefore, written: COUNT - doneBefore, failed: [] });
  // Only unfinished examples were asked about (the first operand, i + 2, names the example).
  const asked = new Set(teacher.prompts.map((p) => Number(/What is (\d+) \+/.exec(p)![1]) - 2));
  const finishedEarlier = new Set(readJsonl(`${outFile}.done`).slice(0, doneBefore) as string[]);
  expect([...asked].filter((i) => finishedEarlier.has(`sums/${i}`))).toEqual([]);
  expect(asked.size).toBe(COUNT - doneBefore);

  const { done, records } = readState(outFile);
  expect(records).toHaveLength(COUNT);
  expect(new Set(records).size).toBe(COUNT);
  expect(new Set(done)).toEqual(new Set(examples.map((e) => e.id)));
  const rerun = await generateRationales({ client: teacher, strategy: zeroShotCoT(), examples, outFile });
  expect(rerun).toMatchObject({ skipped: COUNT, written: 0 });
}, 90_000);

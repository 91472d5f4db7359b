import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../../lib/random';
import { bundleCrashWriter, runAndKillAtStep, runAndKillMidWrite } from './support/kill-loop';

const STEPS = 400;
const KILLS = 20;

const stepIn = (root: string): number => {
  const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
  return manifest.stages.teacher.summary.step;
};

it(`the run manifest survives ${KILLS} SIGKILLs during RunFolder.updateStage, and the rerun continues where it stopped`, async () => {
  const writer = bundleCrashWriter();
  const root = join(mkdtempSync(join(tmpdir(), 'rrl-kill-manifest-')), 'run');
  const random = new Random(12);
  let step = 0;
  for (let round = 0; round < KILLS; round++) {
    // The writer takes one step per go-ahead, so the kill lands at the drawn step on any machine.
    const killAt = random.int(15);
    const run = await runAndKillAtStep(writer, ['manifest', root, String(STEPS)], killAt, random.int(3));
    expect(run.killed).toBe(true);
    const now = stepIn(root); // parses, or the test fails here
    expect(now).toBeGreaterThanOrEqual(step + killAt); // every acknowledged step's write is kept
    expect(now).toBeLessThanOrEqual(step + killAt + 1); // the last may or may not have landed
    step = now;
  }
  expect(step).toBeLessThan(STEPS);
  const final = await runAndKillAtStep(writer, ['manifest', root, String(STEPS)], Infinity);
  expect(final).toEqual({ killed: false, finished: { start: step } });
  expect(stepIn(root)).toBe(STEPS);
}, 600_000); // a guard against a hang, not a speed limit

it('a SIGKILL inside a manifest write (half its bytes on disk) leaves the previous manifest whole, however fast the machine', async () => {
  const writer = bundleCrashWriter();
  const root = join(mkdtempSync(join(tmpdir(), 'rrl-kill-midwrite-')), 'run');
  const random = new Random(5);
  let step = 0;
  for (let round = 0; round < 5; round++) {
    // The write of step `stallAt` stops halfway and waits; the kill cannot miss it. An in-place write would leave
    // manifest.json cut in half here and JSON.parse would fail.
    const stallAt = step + 1 + random.int(10);
    expect(await runAndKillMidWrite(writer, ['manifest', root, String(STEPS), String(stallAt)])).toEqual({ killedMidWrite: true });
    expect(stepIn(root)).toBe(stallAt - 1);
    step = stallAt - 1;
  }
  const final = await runAndKillAtStep(writer, ['manifest', root, String(STEPS)], Infinity);
  expect(final).toEqual({ killed: false, finished: { start: step } });
  expect(stepIn(root)).toBe(STEPS);
}, 600_000); // a guard against a hang, not a speed limit

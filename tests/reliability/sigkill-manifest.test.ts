import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../../lib/random';
import { bundleCrashWriter, runAndKill } from './support/kill-loop';

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
  let interrupted = 0;
  for (let round = 0; round < KILLS; round++) {
    const run = await runAndKill(writer, ['manifest', root, String(STEPS)], random.int(40));
    if (run.killed) interrupted++;
    else expect(run.finished!.start).toBe(step);
    const now = stepIn(root); // parses, or the test fails here
    expect(now).toBeGreaterThanOrEqual(step);
    step = now;
  }
  expect(interrupted).toBeGreaterThan(KILLS / 2);
  expect(step).toBeLessThan(STEPS);
  const final = await runAndKill(writer, ['manifest', root, String(STEPS)], 60_000);
  expect(final).toEqual({ killed: false, finished: { start: step } });
  expect(stepIn(root)).toBe(STEPS);
}, 90_000);

import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setConsoleLevel } from '../../lib/log/logger';
import { loadCheckpoint } from '../../lib/model';
import { Random } from '../../lib/random';
import { bundleCrashWriter, runAndKillAtStep } from './support/kill-loop';

const STEPS = 300;
const KILLS = 20;

beforeAll(async () => {
  setConsoleLevel('error');
  await tf.setBackend('cpu');
});

/** The checkpoint's step, after checking every weight holds that step (weights and trainer state belong together). */
async function stepIn(dir: string): Promise<number> {
  const { model, extra } = await loadCheckpoint(dir);
  const step = Number(extra?.step);
  for (const [name, w] of Object.entries(model.weights)) {
    const values = new Set(w.dataSync());
    if (values.size !== 1 || !values.has(step)) throw new Error(`${dir}: weight ${name} does not hold step ${step}`);
  }
  model.dispose();
  return step;
}

it(`saveCheckpoint survives ${KILLS} SIGKILLs: the folder always loads whole, and a rerun resumes from it`, async () => {
  const writer = bundleCrashWriter();
  const parent = mkdtempSync(join(tmpdir(), 'rrl-kill-ckpt-'));
  const dir = join(parent, 'last');
  const random = new Random(13);
  let step = 0;
  for (let round = 0; round < KILLS; round++) {
    // The writer saves once per go-ahead, so the kill lands at the drawn step (during or around that save) on any machine.
    const killAt = random.int(8);
    const run = await runAndKillAtStep(writer, ['checkpoint', dir, String(STEPS)], killAt, random.int(20));
    expect(run.killed).toBe(true);
    if (!existsSync(dir)) continue; // killed before the first save
    const now = await stepIn(dir);
    expect(now).toBeGreaterThanOrEqual(step + killAt);
    expect(now).toBeLessThanOrEqual(step + killAt + 1);
    step = now;
  }
  expect(step).toBeGreaterThan(0);
  expect(step).toBeLessThan(STEPS);
  const final = await runAndKillAtStep(writer, ['checkpoint', dir, String(STEPS)], Infinity);
  expect(final).toEqual({ killed: false, finished: { start: step } });
  expect(await stepIn(dir)).toBe(STEPS);
  // A killed writer's half-written temporary folders are cleared by the next save.
  expect(readdirSync(parent).filter((f) => f !== 'last')).toEqual([]);
}, 600_000); // a guard against a hang, not a speed limit

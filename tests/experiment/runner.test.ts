import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateExperiment } from '../../lib/experiment/config';
import { RunFolder, type StageName } from '../../lib/experiment/run-folder';
import { RunInterrupted, RunStateError, runExperiment, type StageFunction } from '../../lib/experiment/runner';
import { setConsoleLevel } from '../../lib/log/logger';

setConsoleLevel('error');

/** Stages that write one file each and count their calls; `failAt` makes one throw once. */
function countingStages(calls: string[], failAt?: { stage: StageName; error: Error }) {
  const impl: Partial<Record<StageName, StageFunction>> = {};
  for (const stage of ['data', 'teacher', 'distill', 'rl', 'eval', 'report'] as StageName[]) {
    impl[stage] = async (ctx) => {
      calls.push(`${stage}${ctx.resume ? ':resume' : ''}`);
      if (failAt?.stage === stage) {
        const error = failAt.error;
        failAt = undefined;
        throw error;
      }
      writeFileSync(join(ctx.dir, 'out.txt'), stage);
      return { outputs: { out: `${stage}/out.txt` }, summary: { n: calls.length } };
    };
  }
  return impl;
}

function config(output: string, overrides: Record<string, unknown> = {}) {
  return validateExperiment({ name: 'runner-test', output, data: { source: { kind: 'synthetic', task: 'coin_flip' } }, ...overrides });
}

describe('experiment runner', () => {
  test('runs every stage once, then skips finished stages', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    const calls: string[] = [];
    await runExperiment(config(output), { implementations: countingStages(calls) });
    expect(calls).toEqual(['data', 'teacher', 'distill', 'rl', 'eval', 'report']);
    const manifest = JSON.parse(readFileSync(join(output, 'runner-test', 'manifest.json'), 'utf8'));
    expect(Object.values(manifest.stages).map((s) => (s as { status: string }).status)).toEqual(Array(6).fill('done'));
    await runExperiment(config(output), { implementations: countingStages(calls) });
    expect(calls).toHaveLength(6);
    expect(existsSync(join(output, 'runner-test', 'run.lock'))).toBe(false);
  });

  test('an interrupted stage needs --resume, and resumes with resume=true', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    const calls: string[] = [];
    await expect(runExperiment(config(output), {
      implementations: countingStages(calls, { stage: 'distill', error: new RunInterrupted('SIGINT') }),
    })).rejects.toThrow(RunInterrupted);
    expect(new RunFolder(config(output)).manifest().stages.distill?.status).toBe('running');
    await expect(runExperiment(config(output), { implementations: countingStages(calls) }))
      .rejects.toThrow(/stage "distill" was interrupted \(running\)\. Pass --resume/);
    await runExperiment(config(output), { resume: true, implementations: countingStages(calls) });
    expect(calls).toEqual(['data', 'teacher', 'distill', 'distill:resume', 'rl', 'eval', 'report']);
  });

  test('a changed config is refused with the changed fields named, and --restart reruns from there', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    const calls: string[] = [];
    await runExperiment(config(output), { implementations: countingStages(calls) });
    const changed = config(output, { rl: { iterations: 3 } });
    await expect(runExperiment(changed, { implementations: countingStages(calls) }))
      .rejects.toThrow(/stage "rl" was run with a different config \(changed: rl\.iterations\)/);
    calls.length = 0;
    await runExperiment(changed, { restart: true, stages: ['rl', 'eval', 'report'], implementations: countingStages(calls) });
    expect(calls).toEqual(['rl', 'eval', 'report']);
  });

  test('the changed fields are named against the config the stage ran with, even after earlier stages ran again', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    await runExperiment(config(output), { implementations: countingStages([]) });
    const run = new RunFolder(config(output));
    run.clearStage('data');
    run.clearStage('teacher');
    // data and teacher run again with the new config (rewriting the manifest's config), then distill is refused
    await expect(runExperiment(config(output, { student: { dModel: 32 } }), { implementations: countingStages([]) }))
      .rejects.toThrow(/stage "distill" was run with a different config \(changed: student\.dModel\)/);
  });

  test('one stage alone needs the earlier stages done; rerunning one invalidates later ones', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    const calls: string[] = [];
    await expect(runExperiment(config(output), { stages: ['distill'], implementations: countingStages(calls) }))
      .rejects.toThrow(RunStateError);
    expect(calls).toEqual([]);
    await runExperiment(config(output), { implementations: countingStages(calls) });
    await runExperiment(config(output), { stages: ['teacher'], implementations: countingStages(calls) });
    const stages = new RunFolder(config(output)).manifest().stages;
    expect(Object.keys(stages)).toEqual(['data', 'teacher']);
  });

  test('a failing stage is recorded as failed with its message', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    await expect(runExperiment(config(output), {
      implementations: countingStages([], { stage: 'teacher', error: new Error('endpoint down') }),
    })).rejects.toThrow('endpoint down');
    const record = new RunFolder(config(output)).manifest().stages.teacher;
    expect(record).toMatchObject({ status: 'failed', error: 'endpoint down' });
  });

  test('a failed stage runs again with a changed config without --restart; a finished one stays locked', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    const calls: string[] = [];
    const recorded = (path: string) => config(output, { teacher: { kind: 'recorded', path } });
    await expect(runExperiment(recorded('missing.jsonl'), { implementations: countingStages(calls, { stage: 'teacher', error: new Error('teacher.path: missing.jsonl does not exist') }) }))
      .rejects.toThrow('missing.jsonl does not exist');
    expect(new RunFolder(recorded('missing.jsonl')).manifest().stages.teacher?.status).toBe('failed');
    // Same config: still needs --resume or --restart (the failure may be worth a look); changed config: runs.
    await expect(runExperiment(recorded('missing.jsonl'), { implementations: countingStages(calls) })).rejects.toThrow(/stage "teacher" was interrupted \(failed\)/);
    await runExperiment(recorded('found.jsonl'), { implementations: countingStages(calls) });
    expect(calls).toEqual(['data', 'teacher', 'teacher', 'distill', 'rl', 'eval', 'report']);
    const manifest = new RunFolder(recorded('found.jsonl')).manifest();
    expect(manifest.stages.teacher).toMatchObject({ status: 'done', config: { teacher: { path: 'found.jsonl' } } });
    await expect(runExperiment(recorded('other.jsonl'), { implementations: countingStages(calls) }))
      .rejects.toThrow(/stage "teacher" was run with a different config \(changed: teacher\.path\)/);
  });

  test('a live lock held by another process is refused', async () => {
    const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
    const folder = new RunFolder(config(output));
    folder.lock();
    writeFileSync(folder.path('run.lock'), String(process.ppid));
    await expect(runExperiment(config(output), { implementations: countingStages([]) }))
      .rejects.toThrow(/being run by another process/);
  });
});

test('a stage run again from the start drops its old metric lines; other stages keep theirs', async () => {
  const output = mkdtempSync(join(tmpdir(), 'rrl-run-'));
  const writing: Partial<Record<StageName, StageFunction>> = {
    ...countingStages([]),
    rl: async (ctx) => {
      for (let step = 1; step <= (ctx.config.rl.iterations === 3 ? 3 : 5); step++) ctx.metrics.write({ stage: 'rl', step, reward: step });
      return { outputs: {}, summary: {} };
    },
    distill: async (ctx) => {
      ctx.metrics.write({ stage: 'distill', step: 1, loss: 1 });
      ctx.metrics.write({ stage: 'distill-eval', step: 1, testAccuracy: 0.5 });
      return { outputs: {}, summary: {} };
    },
  };
  await runExperiment(config(output), { implementations: writing });
  await runExperiment(config(output, { rl: { iterations: 3 } }), { restart: true, stages: ['rl'], implementations: writing });
  const lines = readFileSync(join(output, 'runner-test', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.filter((l) => l.stage === 'rl').map((l) => l.step)).toEqual([1, 2, 3]);
  expect(lines.filter((l) => l.stage.startsWith('distill')).map((l) => l.stage)).toEqual(['distill', 'distill-eval']);
});

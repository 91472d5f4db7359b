import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(__dirname, '../../bin/rrl.js');

function experimentFile(dir: string, output: string): string {
  const file = join(dir, 'tiny.ts');
  writeFileSync(file, `export default ${JSON.stringify({
    name: 'tiny', output, seed: 5,
    data: { source: { kind: 'synthetic', task: 'coin_flip', size: 40, steps: 1 } },
    student: { dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 200 },
    distill: { epochs: 4, batchSize: 8, evalEvery: 1, warmupSteps: 2, maxNewTokens: 8 },
    rewards: { weights: { 'answer-correctness': 1, coherence: 0.5 } },
    rl: { iterations: 6, batchSize: 4, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 8, checkpointEvery: 1 },
    eval: { limit: 8, samples: 2 },
  })};\n`);
  return file;
}

const env = { ...process.env, RRL_PROGRESS: 'off', RRL_LOG_LEVEL: 'warn' };

function runToEnd(args: string[]): void {
  const result = spawnSync(process.execPath, [cli, 'run', ...args], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`rrl run ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
}

/** Start a run and SIGKILL it as soon as `ready()` holds. */
async function killWhen(args: string[], ready: () => boolean): Promise<void> {
  const child = spawn(process.execPath, [cli, 'run', ...args], { env, stdio: 'ignore' });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  let alive = true;
  void exited.then(() => { alive = false; });
  while (alive && !ready()) await new Promise((r) => setTimeout(r, 50));
  expect(alive).toBe(true); // the run must not have finished before the kill
  child.kill('SIGKILL');
  await exited;
}

const stageStatus = (run: string, stage: string) => {
  try {
    return JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).stages[stage]?.status as string | undefined;
  } catch {
    return undefined; // not written yet
  }
};

test('SIGKILL during distillation and during RL, then --resume, ends with the same results as an uninterrupted run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrl-kill-'));
  const reference = join(dir, 'reference');
  const interrupted = join(dir, 'interrupted');
  runToEnd([experimentFile(dir, reference)]);

  const file = experimentFile(mkdtempSync(join(dir, 'x-')), interrupted);
  const run = join(interrupted, 'tiny');
  await killWhen([file], () => stageStatus(run, 'distill') === 'running' && existsSync(join(run, 'distill/last/trainer_state.json')));
  expect(stageStatus(run, 'distill')).toBe('running');
  // Without --resume the interrupted stage is not silently restarted.
  const refused = spawnSync(process.execPath, [cli, 'run', file], { env, encoding: 'utf8' });
  expect(refused.status).toBe(3);
  expect(refused.stderr).toMatch(/stage "distill" was interrupted \(running\)\. Pass --resume/);

  await killWhen([file, '--resume'], () => stageStatus(run, 'rl') === 'running' && existsSync(join(run, 'rl/last/trainer_state.json')));
  expect(stageStatus(run, 'distill')).toBe('done');
  runToEnd([file, '--resume']);

  const results = (root: string) => JSON.parse(readFileSync(join(root, 'tiny/eval/results.json'), 'utf8'));
  expect(results(interrupted)).toEqual(results(reference));
  const summary = (root: string, stage: string) => {
    const { trainSeconds: _t, ...rest } = JSON.parse(readFileSync(join(root, 'tiny/manifest.json'), 'utf8')).stages[stage].summary;
    return rest;
  };
  expect(summary(interrupted, 'distill')).toEqual(summary(reference, 'distill'));
  expect(summary(interrupted, 'rl')).toEqual(summary(reference, 'rl'));
}, 600_000);

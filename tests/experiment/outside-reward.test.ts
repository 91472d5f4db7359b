/**
 * A custom reward in a folder outside the repository, importing `rationale-rl` (which that folder cannot resolve by
 * itself), is listed by `rrl rewards --path` and used by `rrl run`: the CLI, the package entry and the user's files
 * share one module graph, so one reward registry.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(__dirname, '../../bin/rrl.js');
const env = { ...process.env, RRL_PROGRESS: 'off', RRL_LOG_LEVEL: 'warn' };

function rrl(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8' });
}

const folder = mkdtempSync(join(tmpdir(), 'rrl-outside-'));
const rewardsDir = join(folder, 'my-rewards');
require('node:fs').mkdirSync(rewardsDir);
// A reward file: the default export, from the package entry.
writeFileSync(join(rewardsDir, 'mentions-heads.ts'), `import { defineReward } from 'rationale-rl';
export default defineReward({
  name: 'mentions-heads',
  description: 'one when the rationale says heads',
  score: async (batch) => batch.map(({ rationale }) => (/heads/i.test(rationale) ? 1 : 0)),
});
`);
// A module that registers a reward by calling the registry of the package's rewards subpath.
writeFileSync(join(folder, 'register-more.ts'), `import { defineReward, registerReward } from 'rationale-rl/rewards';
registerReward('word-count', defineReward({ name: 'word-count', score: async (batch) => batch.map(({ rationale }) => rationale.split(/\\s+/).length) }));
`);
writeFileSync(join(folder, 'experiment.ts'), `import { defineExperiment } from 'rationale-rl';
import './register-more';
export default defineExperiment(${JSON.stringify({
    name: 'outside', output: join(folder, 'runs'), seed: 2,
    data: { source: { kind: 'synthetic', task: 'coin_flip', size: 30, steps: 1 } },
    student: { dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 200 },
    distill: { epochs: 1, batchSize: 8, evalEvery: 1, warmupSteps: 1, maxNewTokens: 8 },
    rewards: { paths: ['my-rewards'], weights: { coherence: 0.5, 'mentions-heads': 1, 'word-count': 0.01 } },
    rl: { iterations: 1, batchSize: 4, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 8 },
    eval: { limit: 4, samples: 1 },
  })});
`);

test('rrl rewards --path lists a reward file from a folder outside the repository', () => {
  const result = rrl(['rewards', '--path', rewardsDir], folder);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/^mentions-heads\s+one when the rationale says heads$/m);
  expect(result.stdout).toMatch(/^coherence\s/m); // the built-ins are in the same registry
});

test('rrl run uses rewards registered from outside the repository, and the metrics show their components', () => {
  const result = rrl(['run', 'experiment.ts', '--stage', 'data', 'teacher', 'distill', 'rl'], folder);
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.status).toBe(0);
  const metrics = readFileSync(join(folder, 'runs/outside/metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const rl = metrics.find((m) => m.stage === 'rl');
  expect(rl).toHaveProperty(['reward/mentions-heads/mean']);
  expect(rl).toHaveProperty(['reward/word-count/mean']);
  expect(rl['reward/word-count/mean']).toBeGreaterThan(0);
});

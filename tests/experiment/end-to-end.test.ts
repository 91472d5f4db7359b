import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import { setConsoleLevel } from '../../lib/log/logger';

setConsoleLevel('error');

/** Every stage, wired together, on a generated task small enough for a test. */
export function tinyExperiment(output: string) {
  return validateExperiment({
    name: 'tiny', output, seed: 3,
    data: { source: { kind: 'synthetic', task: 'coin_flip', size: 40, steps: 1 } },
    teacher: { kind: 'offline', errorRate: 0.3 },
    student: { dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 200 },
    distill: { epochs: 2, batchSize: 8, evalEvery: 1, warmupSteps: 2, maxNewTokens: 8 },
    rewards: { weights: { 'answer-correctness': 1, coherence: 0.5, 'length-guard': 0.2 } },
    rl: { iterations: 2, batchSize: 4, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 8, checkpointEvery: 1 },
    eval: { limit: 6, samples: 2 },
  });
}

test('an experiment runs from data to report, and a second run skips every stage', async () => {
  await initBackend();
  const output = mkdtempSync(join(tmpdir(), 'rrl-e2e-'));
  const config = tinyExperiment(output);
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  const run = join(output, 'tiny');
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  expect(manifest.stages.data?.summary).toEqual({ train: 28, test: 12 });
  for (const path of ['distill/best/model.safetensors', 'rl/final/model.safetensors', 'rl/last/trainer_state.json', 'report/report.html', 'report/report.md', 'metrics.jsonl', 'run.log']) {
    expect(existsSync(join(run, path))).toBe(true);
  }
  const results = JSON.parse(readFileSync(join(run, 'eval/results.json'), 'utf8')) as EvalResults;
  expect(results.conditions.map((c) => c.condition)).toEqual(['no-rationale', 'teacher', 'distilled', 'rl']);
  for (const c of results.conditions) {
    expect(c.n).toBe(6);
    expect(c.accuracy).toBeGreaterThanOrEqual(0);
    expect(c.accuracy).toBeLessThanOrEqual(1);
  }
  expect(Object.keys(results.conditions[3].rewards ?? {}).sort()).toEqual(['answer-correctness', 'coherence', 'length-guard', 'total']);
  expect(results.samples).toHaveLength(2);
  const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(metrics.filter((m) => m.stage === 'rl').map((m) => m.step)).toEqual([1, 2]);
  expect(metrics.find((m) => m.stage === 'rl')).toHaveProperty('reward/answer-correctness/mean');
  const html = readFileSync(join(run, 'report/report.html'), 'utf8');
  expect(html).toContain('<td>rl</td>');
  const before = readFileSync(join(run, 'manifest.json'), 'utf8');
  await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).stages).toEqual(JSON.parse(before).stages);
});

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import { setConsoleLevel } from '../../lib/log/logger';
import { main } from '../../bin/cli';

setConsoleLevel('error');

/** Every stage, wired together, on a generated task small enough for a test. */
export function tinyExperiment(output: string) {
  return validateExperiment(tinyInput(output));
}

function tinyInput(output: string) {
  return {
    name: 'tiny', output, seed: 3,
    data: { source: { kind: 'synthetic', task: 'coin_flip', size: 40, steps: 1 } },
    teacher: { kind: 'offline', errorRate: 0.3 },
    student: { dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 200 },
    distill: { epochs: 2, batchSize: 8, evalEvery: 1, warmupSteps: 2, maxNewTokens: 8 },
    rewards: { weights: { 'answer-correctness': 1, coherence: 0.5, 'length-guard': 0.2 } },
    rl: { iterations: 2, batchSize: 4, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 8, checkpointEvery: 1 },
    eval: { limit: 6, samples: 2 },
  };
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
  // Per-question results and every pair of conditions, recomputed here from those results.
  expect(results.questionIds).toHaveLength(6);
  for (const c of results.conditions) expect(c.correct!.filter(Boolean).length / 6).toBeCloseTo(c.accuracy, 12);
  expect(results.comparisons.map((c) => `${c.b}-${c.a}`)).toEqual(['teacher-no-rationale', 'distilled-no-rationale', 'distilled-teacher', 'rl-no-rationale', 'rl-teacher', 'rl-distilled']);
  const byName = new Map(results.conditions.map((c) => [c.condition, c.correct!]));
  for (const c of results.comparisons) {
    const [a, b] = [byName.get(c.a)!, byName.get(c.b)!];
    expect(c.onlyA).toBe(a.filter((x, i) => x && !b[i]).length);
    expect(c.onlyB).toBe(b.filter((x, i) => x && !a[i]).length);
    expect(c.diff).toBeCloseTo((100 * (c.onlyB - c.onlyA)) / 6, 10);
    expect(c.ci95[0]).toBeLessThanOrEqual(c.diff + 1e-9);
    expect(c.ci95[1]).toBeGreaterThanOrEqual(c.diff - 1e-9);
  }
  const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(metrics.filter((m) => m.stage === 'rl').map((m) => m.step)).toEqual([1, 2]);
  expect(metrics.find((m) => m.stage === 'rl')).toHaveProperty('reward/answer-correctness/mean');
  const html = readFileSync(join(run, 'report/report.html'), 'utf8');
  expect(html).toContain('<td>rl</td>');
  expect(html).toContain('<td>rl − distilled</td><td>6</td>');
  // rrl inspect prints the same comparisons
  const file = join(output, 'tiny.js');
  writeFileSync(file, `module.exports = { default: ${JSON.stringify(tinyInput(output))} };`);
  const printed: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => { printed.push(parts.join(' ')); });
  try {
    expect(await main(['inspect', file])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  const rlLine = printed.join('\n').split('\n').find((l) => l.trim().startsWith('rl − distilled:'));
  const rlVsDistilled = results.comparisons[5];
  expect(rlLine).toContain(`only rl right ${rlVsDistilled.onlyB}, only distilled right ${rlVsDistilled.onlyA}, n 6`);
  const before = readFileSync(join(run, 'manifest.json'), 'utf8');
  await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).stages).toEqual(JSON.parse(before).stages);
});

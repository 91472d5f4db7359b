/**
 * T5 students through the real runner: the default experiment shrunk to a tiny T5 (distil with Seq2SeqTrainer, RL
 * over decoder tokens, eval, report), a run interrupted in distillation and in RL then resumed, and a Hugging Face
 * T5 folder (the fixture of bench/torch/t5_reference.py) as `student: { checkpoint }`.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment, type StageContext } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import type { ExperimentInput } from '../../lib/experiment/schema';
import type { MetricsRecord } from '../../lib/log/metrics';
import { setConsoleLevel } from '../../lib/log/logger';
import { loadStudentCheckpoint } from '../../lib/model/checkpoint';
import { T5Model } from '../../lib/model/t5';
import defaultExperiment from '../../experiments/default';

setConsoleLevel('error');

/** experiments/default.ts with a tiny T5 student and every loop cut to a few steps. */
function tinyT5Default(output: string, name = 't5'): ExperimentInput {
  return {
    ...defaultExperiment, name, output,
    data: { ...defaultExperiment.data, source: { kind: 'synthetic', task: 'last_letters', size: 40, steps: 2 } },
    student: { arch: 't5', dModel: 32, dFF: 48, nLayers: 1, nDecoderLayers: 1, nHeads: 2, relativeBuckets: 8, relativeMaxDistance: 32, maxSeqLen: 128, tokenizer: 'word-char' },
    distill: { ...defaultExperiment.distill, epochs: 2, evalEvery: 1, warmupSteps: 2, maxNewTokens: 24 },
    rl: { ...defaultExperiment.rl, iterations: 2, batchSize: 2, samplesPerPrompt: 2, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 24, checkpointEvery: 1, prompts: { kind: 'synthetic', size: 40 } },
    eval: { limit: 4, samples: 1 },
  };
}

const results = (run: string) => JSON.parse(readFileSync(join(run, 'eval/results.json'), 'utf8')) as EvalResults;

beforeAll(async () => {
  await initBackend();
});

test('the default experiment runs end to end with a tiny T5 student', async () => {
  const output = mkdtempSync(join(tmpdir(), 'rrl-t5-'));
  const config = validateExperiment(tinyT5Default(output));
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  const run = join(output, 't5');
  expect(results(run).conditions.map((c) => [c.condition, c.n])).toEqual([['no-rationale', 4], ['teacher', 4], ['distilled', 4], ['rl', 4]]);
  expect(existsSync(join(run, 'report/report.html'))).toBe(true);
  // RL ran GRPO over the T5 student's decoder tokens, from the distilled T5 checkpoint
  const rl = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsRecord).filter((r) => r.stage === 'rl');
  expect(rl.map((r) => r.step)).toEqual([1, 2]);
  for (const r of rl) expect(r.rationaleTokens).toBeGreaterThan(0);
  const final = await loadStudentCheckpoint(join(run, 'rl/final'));
  expect(final.model).toBeInstanceOf(T5Model);
  expect(final.model.config).toMatchObject({ arch: 't5', dModel: 32, dFF: 48, nLayers: 1, relativeBuckets: 8, maxSeqLen: 128 });
  final.model.dispose();
});

/**
 * T5 students through the real runner: experiments/t5-default.ts (the default experiment with a T5 student) shrunk
 * to a tiny T5 (distil with Seq2SeqTrainer, RL over decoder tokens, eval, report), a run interrupted in distillation and in RL then resumed, and a Hugging Face
 * T5 folder (the fixture of bench/torch/t5_reference.py) as `student: { checkpoint }`.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { RunInterrupted, runExperiment, type StageFunction } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import type { ExperimentInput } from '../../lib/experiment/schema';
import type { MetricsRecord, MetricsSink } from '../../lib/log/metrics';
import { setConsoleLevel } from '../../lib/log/logger';
import { ADAPTER_FOLDER, loadStudentCheckpoint } from '../../lib/model/checkpoint';
import { readSafetensors } from '../../lib/model/safetensors';
import { T5Model } from '../../lib/model/t5';
import t5Default from '../../experiments/t5-default';
import { main } from '../../bin/cli';

setConsoleLevel('error');

/** experiments/t5-default.ts with a tiny T5 student and every loop cut to a few steps. */
function tinyT5Default(output: string, name = 't5'): ExperimentInput {
  const shipped = t5Default;
  if (shipped.student === undefined || !('arch' in shipped.student) || shipped.student.arch !== 't5') throw new Error('experiments/t5-default.ts: expected a T5 student');
  return {
    ...shipped, name, output,
    data: { ...shipped.data, source: { kind: 'synthetic', task: 'last_letters', size: 40, steps: 2 } },
    student: { ...shipped.student, dModel: 32, dFF: 48, nLayers: 1, nDecoderLayers: 1, nHeads: 2, relativeBuckets: 8, relativeMaxDistance: 32, maxSeqLen: 128 },
    distill: { ...shipped.distill, epochs: 2, evalEvery: 1, warmupSteps: 2, maxNewTokens: 24 },
    rl: { ...shipped.rl, iterations: 2, batchSize: 2, samplesPerPrompt: 2, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 24, checkpointEvery: 1, prompts: { kind: 'synthetic', size: 40 } },
    eval: { limit: 4, samples: 1 },
  };
}

const results = (run: string) => JSON.parse(readFileSync(join(run, 'eval/results.json'), 'utf8')) as EvalResults;

beforeAll(async () => {
  await initBackend();
});

let reference: EvalResults | undefined;

test('the default experiment (experiments/t5-default.ts, shrunk) runs end to end with a tiny T5 student', async () => {
  const output = mkdtempSync(join(tmpdir(), 'rrl-t5-'));
  const config = validateExperiment(tinyT5Default(output));
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  const run = join(output, 't5');
  reference = results(run);
  expect(reference.conditions.map((c) => [c.condition, c.n])).toEqual([['no-rationale', 4], ['teacher', 4], ['distilled', 4], ['rl', 4]]);
  expect(existsSync(join(run, 'report/report.html'))).toBe(true);
  // RL ran GRPO over the T5 student's decoder tokens, from the distilled T5 checkpoint
  const rl = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsRecord).filter((r) => r.stage === 'rl');
  expect(rl.map((r) => r.step)).toEqual([1, 2]);
  for (const r of rl) expect(r.rationaleTokens).toBeGreaterThan(0);
  const final = await loadStudentCheckpoint(join(run, 'rl/final'));
  expect(final.model).toBeInstanceOf(T5Model);
  expect(final.model.config).toMatchObject({ arch: 't5', dModel: 32, dFF: 48, nLayers: 1, relativeBuckets: 8, maxSeqLen: 128 });
  // rrl export writes the refined T5 as a Hugging Face T5 folder, which reads back with the same weights and token ids
  const exported = join(output, 'exported');
  const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    expect(await main(['export', join(run, 'rl/final'), exported])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  expect(JSON.parse(readFileSync(join(exported, 'config.json'), 'utf8'))).toMatchObject({ model_type: 't5', d_model: 32, feed_forward_proj: 'gated-gelu', pad_token_id: 0, eos_token_id: 2 });
  const hf = await loadStudentCheckpoint(exported, { maxSeqLen: 128 });
  const [mine, theirs] = [await final.model.toArrays(), await hf.model.toArrays()];
  for (const [name, { data }] of mine) if (!name.startsWith('value_head')) expect(theirs.get(name)!.data).toEqual(data);
  const text = reference.samples[0].question;
  expect(hf.tokenizer.encode(text, { addEos: true })).toEqual(final.tokenizer.encode(text, { addEos: true }));
  final.model.dispose();
  hf.model.dispose();
});

/** The stage `stage` of the project, with `controller` aborted once it has written its metrics line of step `step`. */
function stopAfter(stage: 'distill' | 'rl', step: number, controller: AbortController): StageFunction {
  return (context) => {
    const metrics = Object.create(context.metrics) as MetricsSink;
    metrics.write = (record) => {
      context.metrics.write(record);
      if (record.stage === stage && record.step === step) controller.abort();
    };
    return STAGE_IMPLEMENTATIONS[stage]!({ ...context, metrics });
  };
}

test('a T5 run interrupted in distillation and in RL resumes from its checkpoints to the results of an uninterrupted run', async () => {
  expect(reference).toBeDefined(); // written by the test above
  const output = mkdtempSync(join(tmpdir(), 'rrl-t5-resume-'));
  const config = validateExperiment(tinyT5Default(output));
  const run = join(output, 't5');
  const inDistill = new AbortController();
  await expect(runExperiment(config, { signal: inDistill.signal, implementations: { ...STAGE_IMPLEMENTATIONS, distill: stopAfter('distill', 2, inDistill) } }))
    .rejects.toThrow(RunInterrupted);
  const distillLast = JSON.parse(readFileSync(join(run, 'distill/last/trainer_state.json'), 'utf8'));
  expect(distillLast.distill.step).toBe(2);
  expect(existsSync(join(run, 'distill/last/optimizer.safetensors'))).toBe(true);

  const inRL = new AbortController();
  await expect(runExperiment(config, { resume: true, signal: inRL.signal, implementations: { ...STAGE_IMPLEMENTATIONS, rl: stopAfter('rl', 1, inRL) } }))
    .rejects.toThrow(RunInterrupted);
  expect(JSON.parse(readFileSync(join(run, 'rl/last/trainer_state.json'), 'utf8')).ppo.iteration).toBe(1);

  const manifest = await runExperiment(config, { resume: true, implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  expect(results(run)).toEqual(reference);
  const log = readFileSync(join(run, 'run.log'), 'utf8');
  expect(log).toContain('resuming at epoch 1, step 2');
  expect(log).toContain('resuming at iteration 2');
});

test('a Hugging Face T5 folder works as student: { checkpoint }, with LoRA on its projections', async () => {
  const output = mkdtempSync(join(tmpdir(), 'rrl-t5-hf-'));
  const fixture = resolve(__dirname, '..', 'fixtures', 'hf', 't5-tiny');
  const config = validateExperiment({
    ...tinyT5Default(output, 'hf-t5'),
    student: { checkpoint: fixture, maxSeqLen: 64, lora: { rank: 2, alpha: 4, targetModules: ['q', 'v', 'wi_0'] } },
    distill: { epochs: 1, batchSize: 8, evalEvery: 1, warmupSteps: 1, maxNewTokens: 8, learningRate: 1e-2 },
    rl: { algorithm: 'grpo', samplesPerPrompt: 2, iterations: 1, batchSize: 2, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 8, checkpointEvery: 1 },
  });
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  const run = join(output, 'hf-t5');
  expect(results(run).conditions.map((c) => c.condition)).toEqual(['no-rationale', 'teacher', 'distilled', 'rl']);
  // distill/best: the fixture's weights untouched beside a trained PEFT adapter with T5's module names
  const original = await loadStudentCheckpoint(fixture, { maxSeqLen: 64 });
  const stored = readSafetensors(join(run, 'distill/best/model.safetensors'));
  for (const [name, { data }] of await original.model.toArrays()) if (!name.startsWith('value_head')) expect(stored.get(name)!.data).toEqual(data);
  const adapter = readSafetensors(join(run, 'distill/best', ADAPTER_FOLDER, 'adapter_model.safetensors'));
  const b = adapter.get('base_model.model.decoder.block.2.layer.1.EncDecAttention.v.lora_B.weight')!;
  expect(Math.max(...Array.from(b.data as Float32Array, Math.abs))).toBeGreaterThan(0); // trained from zero
  expect(adapter.has('base_model.model.encoder.block.0.layer.1.DenseReluDense.wi_0.lora_A.weight')).toBe(true);
  const distilled = await loadStudentCheckpoint(join(run, 'distill/best'));
  expect(distilled.model).toBeInstanceOf(T5Model);
  expect(distilled.model.adapter).toBeDefined();
  expect(distilled.tokenizer.vocabSize).toBe(original.tokenizer.vocabSize);
  original.model.dispose();
  distilled.model.dispose();
});

/**
 * An experiment with LoRA on a Hugging Face student (the Qwen2 fixture of bench/torch/hf_reference.py): distil with
 * adapters, RL with fresh adapters over the merged distilled weights, eval, report.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import { setConsoleLevel } from '../../lib/log/logger';
import { ADAPTER_FOLDER, loadCheckpoint } from '../../lib/model/checkpoint';
import { readSafetensors } from '../../lib/model/safetensors';

setConsoleLevel('error');

test('student: { checkpoint: <Hugging Face folder>, lora } distils and refines adapters only, then evaluates and reports', async () => {
  await initBackend();
  const output = mkdtempSync(join(tmpdir(), 'rrl-lora-student-'));
  const fixture = join(__dirname, '..', 'fixtures', 'hf', 'qwen2-f16');
  const config = validateExperiment({
    name: 'lora', output, seed: 3,
    data: { source: { kind: 'synthetic', task: 'coin_flip', size: 24, steps: 1 } },
    teacher: { kind: 'offline', errorRate: 0.3 },
    student: { checkpoint: fixture, maxSeqLen: 256, lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] } },
    distill: { epochs: 1, batchSize: 8, evalEvery: 1, warmupSteps: 1, maxNewTokens: 6, learningRate: 1e-2 },
    rewards: { weights: { 'answer-correctness': 1, 'length-guard': 0.2 } },
    rl: { algorithm: 'grpo', samplesPerPrompt: 2, iterations: 1, batchSize: 2, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 6, checkpointEvery: 1 },
    // the teacher's rationales do not fit the fixture's 256-token context with its character-level vocabulary
    eval: { limit: 4, samples: 1, conditions: ['no-rationale', 'distilled', 'rl'] },
  });
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  const run = join(output, 'lora');
  const results = JSON.parse(readFileSync(join(run, 'eval/results.json'), 'utf8')) as EvalResults;
  expect(results.conditions.map((c) => [c.condition, c.n])).toEqual([['no-rationale', 4], ['distilled', 4], ['rl', 4]]);
  expect(existsSync(join(run, 'report/report.html'))).toBe(true);

  // distill/best: the base weights untouched (the fixture's, F16 -> F32 exactly) and a trained PEFT adapter beside them
  const original = await loadCheckpoint(fixture, { maxSeqLen: 256 });
  const base = await original.model.toArrays();
  const best = join(run, 'distill', 'best');
  const stored = readSafetensors(join(best, 'model.safetensors'));
  for (const [name, { data }] of base) if (name !== 'value_head.w' && name !== 'value_head.b') expect(stored.get(name)!.data).toEqual(data);
  const adapterConfig = JSON.parse(readFileSync(join(best, ADAPTER_FOLDER, 'adapter_config.json'), 'utf8'));
  expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'down_proj'] });
  const adapter = readSafetensors(join(best, ADAPTER_FOLDER, 'adapter_model.safetensors'));
  const b = adapter.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!;
  expect(Math.max(...Array.from(b.data as Float32Array, Math.abs))).toBeGreaterThan(0); // trained from zero
  // the distilled student loads with its adapter attached
  const distilled = await loadCheckpoint(best);
  expect(distilled.model.adapter).toBeDefined();
  // rl/final: base = the distilled weights merged, plus the RL adapter; optimizer state was adapter-only
  const last = readSafetensors(join(run, 'rl', 'last', 'optimizer.safetensors'));
  expect([...last.keys()].every((k) => /lora_[ab]$/.test(k) || k.includes('value_head'))).toBe(true);
  expect(existsSync(join(run, 'rl', 'final', ADAPTER_FOLDER, 'adapter_model.safetensors'))).toBe(true);
  original.model.dispose();
  distilled.model.dispose();
});

/**
 * An experiment whose student is a Hugging Face folder (the Qwen2 fixture of bench/torch/hf_reference.py), read as an
 * instruct student: its prompts rendered by the fixture's ChatML template (`student.chatTemplate`).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import { setConsoleLevel } from '../../lib/log/logger';
import { loadCheckpoint } from '../../lib/model/checkpoint';
import { readJsonl } from '../../lib/data/jsonl';
import type { Example } from '../../lib/data/types';
import { predictWithStudent } from '../../lib/eval/predict';

setConsoleLevel('error');

test('student: { checkpoint: <Hugging Face folder> } runs distill, RL, eval and report', async () => {
  await initBackend();
  const output = mkdtempSync(join(tmpdir(), 'rrl-hf-student-'));
  const config = validateExperiment({
    name: 'hf', output, seed: 3,
    data: { source: { kind: 'synthetic', task: 'coin_flip', size: 24, steps: 1 } },
    teacher: { kind: 'offline', errorRate: 0.3 },
    student: { checkpoint: join(__dirname, '..', 'fixtures', 'hf', 'qwen2-f16'), maxSeqLen: 200, chatTemplate: true },
    distill: { epochs: 1, batchSize: 8, evalEvery: 1, warmupSteps: 1, maxNewTokens: 6 },
    rewards: { weights: { 'answer-correctness': 1, 'length-guard': 0.2 } },
    rl: { iterations: 1, batchSize: 4, minibatchSize: 4, ppoEpochs: 1, maxNewTokens: 6, checkpointEvery: 1 },
    eval: { limit: 4, samples: 1 },
  });
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
  const run = join(output, 'hf');
  const results = JSON.parse(readFileSync(join(run, 'eval/results.json'), 'utf8')) as EvalResults;
  expect(results.conditions.map((c) => [c.condition, c.n])).toEqual([['no-rationale', 4], ['teacher', 4], ['distilled', 4], ['rl', 4]]);
  expect(existsSync(join(run, 'report/report.html'))).toBe(true);
  // the distilled student keeps the Qwen2 layout and the tokenizer's declared specials (no BOS, EOS <|im_end|>)
  const distilled = await loadCheckpoint(join(run, 'distill', 'best'));
  expect(distilled.model.config).toMatchObject({ arch: 'qwen2', maxSeqLen: 200, vocabSize: 96 });
  expect([distilled.tokenizer.bosId, distilled.tokenizer.eosId]).toEqual([undefined, 95]);
  // distillation's evaluation read the chat-rendered prompts: its predictions are the best checkpoint's with chat
  const test = readJsonl(join(run, 'data', 'test.jsonl')) as Example[];
  const logged = readJsonl(join(run, 'distill', 'predictions-epoch1.jsonl'));
  const options = { format: config.distill.format, maxNewTokens: config.distill.maxNewTokens };
  expect(await predictWithStudent(distilled.model, distilled.tokenizer, test, { ...options, chat: true })).toEqual(logged);
  expect(await predictWithStudent(distilled.model, distilled.tokenizer, test, options)).not.toEqual(logged);
  distilled.model.dispose();
});

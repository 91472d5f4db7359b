/**
 * The judge RL trains against is the judge evaluation reports: an experiment with a custom judge template and
 * answer length, its judge an OpenAI-compatible endpoint (the project's server over a tiny checkpoint) behind a
 * proxy that records every request. The answer-correctness requests of the RL stage and the judge's requests of
 * the eval stage carry the same prompt (the template filled in) and the same max_tokens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { readJsonl } from '../../lib/data/jsonl';
import type { Example } from '../../lib/data/types';
import { Judge } from '../../lib/eval/judge';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../../lib/experiment/stages';
import { startServer, type RunningServer } from '../../lib/llm/server';
import { setConsoleLevel } from '../../lib/log/logger';
import { writeTinyCheckpoint } from '../llm/support/tiny-checkpoint';

interface Recorded { prompt: string; max_tokens: number }
const recorded: Recorded[] = [];
let upstream: RunningServer;
let proxy: Server;
let proxyURL: string;

beforeAll(async () => {
  setConsoleLevel('error');
  await initBackend('wasm');
  const checkpoint = join(mkdtempSync(join(tmpdir(), 'rrl-judge-model-')), 'tiny');
  await writeTinyCheckpoint(checkpoint);
  upstream = await startServer({ checkpoint });
  proxy = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', async () => {
      recorded.push(JSON.parse(raw) as Recorded);
      const answer = await fetch(`${upstream.url}${request.url!.replace(/^\/v1/, '')}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(await answer.text());
    });
  });
  await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
  proxyURL = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await new Promise<void>((done) => proxy.close(() => done()));
  await upstream.close();
});

test('RL and evaluation ask the judge with the experiment\'s template and maxTokens', async () => {
  const output = mkdtempSync(join(tmpdir(), 'rrl-judge-run-'));
  const template = 'Read: {question} | {rationale} | so the answer is';
  const config = validateExperiment({
    name: 'judge-settings', output, seed: 4,
    data: { source: { kind: 'synthetic', task: 'last_letters', size: 16, steps: 2 }, testFraction: 0.25 },
    student: { arch: 'gpt2', dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128, tokenizer: 'char' },
    distill: { epochs: 1, batchSize: 4, maxNewTokens: 8 },
    judge: { kind: 'llm', endpoint: { baseURL: proxyURL, model: 'tiny', api: 'completions' }, template, maxTokens: 3 },
    rewards: { weights: { 'answer-correctness': 1 } },
    rl: { iterations: 1, batchSize: 2, minibatchSize: 2, samplesPerPrompt: 1, maxNewTokens: 8 },
    eval: { samples: 1, limit: 3, conditions: ['teacher'] },
  }, 'judge settings test');
  const upToRL = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS, stages: ['data', 'teacher', 'distill', 'rl'] });
  expect(upToRL.stages.rl?.status).toBe('done');
  const rl = recorded.splice(0);
  // RL statistics count the judge's answers, not a reward by name: with 0/1 scores, the component's mean.
  const step = (readJsonl(join(output, 'judge-settings/metrics.jsonl')) as Record<string, number | string>[]).find((m) => m.stage === 'rl')!;
  expect(step.judgeAccuracy).toBe(step['reward/answer-correctness/mean']);
  await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS, stages: ['eval'] });
  const evaluation = recorded.splice(0);

  expect(rl).toHaveLength(2); // one answer per RL sample
  expect(evaluation).toHaveLength(3); // one per evaluated question
  const shape = /^Read: .+ \| [^]* \| so the answer is$/;
  for (const request of [...rl, ...evaluation]) {
    expect(request.prompt).toMatch(shape);
    expect(request.max_tokens).toBe(3);
  }
  // The eval stage's prompts are exactly the Judge's for the test questions and the teacher's rationales.
  const test = readJsonl(join(output, 'judge-settings/data/test.jsonl')) as Example[];
  const judge = new Judge({ model: 'x', complete: async () => { throw new Error('unused'); }, chat: async () => { throw new Error('unused'); } }, { template, maxTokens: 3 });
  const teacher = new Map((readJsonl(join(output, 'judge-settings/teacher/rationales.jsonl')) as { exampleId: string; rationale: string }[]).map((r) => [r.exampleId, r.rationale]));
  expect(evaluation.map((r) => r.prompt).sort()).toEqual(test.slice(0, 3).map((e) => judge.prompt(e, teacher.get(e.id) ?? '')).sort());
});

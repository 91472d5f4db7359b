/**
 * The teacher stage's spend (requests, tokens) in the manifest counts every attempt: a stage stopped by an error
 * and resumed reports the uninterrupted run's totals plus the one refused request; a restart starts from zero.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../../lib/experiment/stages';
import { LLMError } from '../../lib/llm/errors';
import { startServer, type RunningServer } from '../../lib/llm/server';
import type { CompletionRequest } from '../../lib/llm/types';
import { setConsoleLevel } from '../../lib/log/logger';
import { ArithmeticTeacher } from '../llm/support/arithmetic-teacher';

/** The arithmetic teacher, refusing its `refuseAt`-th call (from 1) with a 400 while `refusing` is set. */
class RefusingTeacher extends ArithmeticTeacher {
  calls = 0;
  refusing = false;
  constructor(private readonly refuseAt: number) {
    super();
  }

  override complete(request: CompletionRequest) {
    if (this.refusing && ++this.calls === this.refuseAt) return Promise.reject(new LLMError('refused for the test', 'request', { status: 400 }));
    return super.complete(request);
  }
}

const teacher = new RefusingTeacher(7);
let server: RunningServer;
beforeAll(async () => {
  setConsoleLevel('error');
  server = await startServer({ client: teacher });
});
afterAll(() => server.close());

const experiment = (output: string) => validateExperiment({
  name: 'spend', output, seed: 1,
  data: { source: { kind: 'synthetic', task: 'last_letters', size: 16 }, testFraction: 0.25 },
  teacher: { kind: 'llm', endpoint: { baseURL: server.url, model: 'arithmetic-teacher', api: 'completions', maxConcurrency: 2, maxRetries: 0 }, strategy: 'zero-shot-cot', maxTokens: 8 },
  student: { arch: 'gpt2', dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 64 },
  rewards: { weights: { coherence: 1 } },
}, 'teacher-usage test');
const run = (output: string, options: { resume?: boolean; restart?: boolean } = {}) =>
  runExperiment(experiment(output), { implementations: STAGE_IMPLEMENTATIONS, stages: ['data', 'teacher'], ...options });

test('interrupted and resumed, the teacher summary counts both attempts; a restart counts from zero', async () => {
  const whole = (await run(mkdtempSync(join(tmpdir(), 'rrl-spend-')))).stages.teacher!.summary;
  expect(whole.requests).toBe(16 * 2); // 16 questions, two calls each

  const output = mkdtempSync(join(tmpdir(), 'rrl-spend-'));
  teacher.refusing = true;
  await expect(run(output)).rejects.toThrow('refused for the test');
  teacher.refusing = false;
  const resumed = (await run(output, { resume: true })).stages.teacher!.summary;
  // Every call of the uninterrupted run, plus the refused one (it reached the endpoint, and was asked again).
  expect(resumed).toMatchObject({ requests: Number(whole.requests) + 1, promptTokens: whole.promptTokens, completionTokens: whole.completionTokens, records: whole.records });

  // From the start again: the earlier records and totals are discarded; every answer comes from the LLM cache.
  const restarted = (await run(output, { restart: true })).stages.teacher!.summary;
  expect(restarted).toMatchObject({ requests: 0, cacheHits: 32, records: whole.records });
}, 60_000);

/**
 * An experiment whose teacher and judge are `kind: 'llm'` endpoints (the project's server over a tiny checkpoint,
 * the teacher behind a proxy that injects faults into 30% of requests) with the API key in an environment variable:
 * the key never reaches any file of the run folder, and the teacher's retries are reported in the manifest.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { validateExperiment } from '../../lib/experiment/config';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS } from '../../lib/experiment/stages';
import { startServer, type RunningServer } from '../../lib/llm/server';
import { setConsoleLevel } from '../../lib/log/logger';
import { Random } from '../../lib/random';
import { startFaultProxy, type Fault, type FaultProxy } from '../llm/support/fault-proxy';
import { writeTinyCheckpoint } from '../llm/support/tiny-checkpoint';

const KEY_ENV = 'RRL_RELIABILITY_TEST_KEY';
const SECRET = 'sk-test-Zq81vXw3SECRETpAt7Lm0';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

let server: RunningServer;
let proxy: FaultProxy;
beforeAll(async () => {
  setConsoleLevel('error');
  await initBackend('wasm');
  const checkpoint = join(mkdtempSync(join(tmpdir(), 'rrl-secret-model-')), 'tiny');
  await writeTinyCheckpoint(checkpoint);
  server = await startServer({ checkpoint });
  const faults: Fault[] = ['rate-limit', 'server-500', 'server-503', 'reset', 'truncated', 'missing-fields'];
  const random = new Random(5);
  proxy = await startFaultProxy(server.url, () => (random.next() < 0.3 ? random.pick(faults) : 'pass'));
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

test('the API key appears in no file of the run folder; teacher retries are in the manifest', async () => {
  process.env[KEY_ENV] = SECRET;
  const output = mkdtempSync(join(tmpdir(), 'rrl-secret-run-'));
  const endpoint = (baseURL: string) => ({ baseURL, model: 'tiny', apiKeyEnv: KEY_ENV, api: 'completions', maxConcurrency: 4, maxRetries: 10, timeoutSeconds: 20 });
  const config = validateExperiment({
    name: 'secret', output, seed: 3,
    data: { source: { kind: 'synthetic', task: 'last_letters', size: 16, steps: 2 }, testFraction: 0.25 },
    teacher: { kind: 'llm', endpoint: endpoint(proxy.url), strategy: 'zero-shot-cot', maxTokens: 8 },
    student: { arch: 'gpt2', dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128, tokenizer: 'char' },
    distill: { epochs: 1, batchSize: 4, filter: 'all', maxNewTokens: 8 },
    judge: { kind: 'llm', endpoint: endpoint(server.url), maxTokens: 4 },
    rewards: { weights: { 'answer-correctness': 1, coherence: 0.2 } },
    rl: { iterations: 1, batchSize: 2, minibatchSize: 2, samplesPerPrompt: 1, maxNewTokens: 8 },
    eval: { samples: 1, limit: 2 },
  }, 'secrets test');
  const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
  expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));

  const summary = manifest.stages.teacher!.summary;
  const injected = Object.entries(proxy.counts).filter(([k]) => k !== 'pass').reduce((a, [, v]) => a + v, 0);
  expect(injected).toBeGreaterThan(0);
  expect(summary.retries).toBeGreaterThanOrEqual(injected);
  expect(summary.requests).toBe(2 * 16 + Number(summary.retries)); // 16 questions (train and test), two calls each, plus every retry

  const files = filesUnder(join(output, 'secret'));
  expect(files.map((f) => f.slice(output.length + 'secret'.length + 2)))
    .toEqual(expect.arrayContaining(['manifest.json', 'run.log', 'metrics.jsonl', 'teacher/rationales.jsonl']));
  expect(files.some((f) => f.includes('llm-cache'))).toBe(true);
  const leaks = files.filter((f) => readFileSync(f).includes(SECRET) || readFileSync(f).includes(SECRET.slice(8)));
  expect(leaks).toEqual([]);
}, 240_000);

import * as tf from '@tensorflow/tfjs';
import { appendFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { appendJsonl, readJson, readJsonl } from '../../lib/data/jsonl';
import type { UsageReport } from '../../lib/llm/accounting';
import { ReliableLLMClient } from '../../lib/llm/reliable';
import type { LLMClient } from '../../lib/llm/types';
import type { Example, RationaleRecord } from '../../lib/data/types';
import { createOpenAIClient } from '../../lib/llm/openai-client';
import { startServer, type RunningServer } from '../../lib/llm/server';
import { setConsoleLevel } from '../../lib/log/logger';
import { Random } from '../../lib/random';
import { loadCoTDemos, renderDemo } from '../../lib/teacher/demos';
import { generateRationales, type TeacherProgress } from '../../lib/teacher/run';
import { cote, crop, diverse, fewShotCoT, rationalization, zeroShotCoT } from '../../lib/teacher/strategies';
import { ArithmeticTeacher, sumExamples } from '../llm/support/arithmetic-teacher';
import { startFaultProxy, type Fault } from '../llm/support/fault-proxy';
import { writeTinyCheckpoint } from '../llm/support/tiny-checkpoint';

const DATA = join(__dirname, '..', '..', 'data');
const tempDir = () => mkdtempSync(join(tmpdir(), 'rrl-run-'));
const records = (file: string) => readJsonl(file) as RationaleRecord[];

beforeAll(() => setConsoleLevel('error'));

describe('a generation run against the arithmetic teacher', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ client: new ArithmeticTeacher() });
  });
  afterAll(() => server.close());

  it('writes records as it goes, reports progress, and a rerun skips what is done', async () => {
    const outFile = join(tempDir(), 'rationales.jsonl');
    const examples = sumExamples(9);
    const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: 'k' });
    const seen: TeacherProgress[] = [];
    const first = await generateRationales({ client, strategy: cote(), examples, outFile, onProgress: (p) => seen.push(p) });
    // Every third question is tricky: the teacher gets it wrong and COTE drops it.
    expect(first).toMatchObject({ written: 6, skipped: 0, failed: [] });
    expect(records(outFile).map((r) => r.exampleId).sort()).toEqual(examples.filter((_, i) => i % 3 !== 2).map((e) => e.id).sort());
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen[8]).toEqual({ done: 9, total: 9, skipped: 0, records: 6, failed: 0 });
    const before = server.stats.requests;
    const second = await generateRationales({ client, strategy: cote(), examples: sumExamples(12), outFile });
    expect(second).toMatchObject({ written: 2, skipped: 9, failed: [] });
    expect(server.stats.requests - before).toBe(3 * 2); // two stages for each new example
    expect(records(outFile)).toHaveLength(8);
  });

  it('after a crash between writing records and marking them done, nothing is duplicated or lost', async () => {
    const outFile = join(tempDir(), 'rationales.jsonl');
    const examples = sumExamples(4);
    const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: 'k' });
    await generateRationales({ client, strategy: zeroShotCoT(), examples: examples.slice(0, 2), outFile });
    // A run that died: sums/2's record written but not marked done, then a torn line from sums/3.
    const orphan = (await zeroShotCoT().run(client, examples[2]))[0];
    appendJsonl(outFile, [orphan]);
    appendFileSync(outFile, '{"exampleId":"sums/3","rati');
    appendFileSync(`${outFile}.done`, '"sums/');
    const result = await generateRationales({ client, strategy: zeroShotCoT(), examples, outFile });
    expect(result).toMatchObject({ written: 2, skipped: 2, failed: [] });
    expect(records(outFile).map((r) => r.exampleId).sort()).toEqual(['sums/0', 'sums/1', 'sums/2', 'sums/3']);
  });

  it('completes 200+ requests under a 30% fault rate: every record written once, retries reported', async () => {
    const faults: Fault[] = ['rate-limit', 'server-500', 'server-503', 'reset', 'hang', 'truncated', 'missing-fields'];
    const random = new Random(11);
    const proxy = await startFaultProxy(server.url, () => (random.next() < 0.3 ? random.pick(faults) : 'pass'));
    try {
      const outFile = join(tempDir(), 'rationales.jsonl');
      const examples = sumExamples(110);
      const cacheDir = tempDir();
      const client = createOpenAIClient({
        model: 'arithmetic-teacher', baseURL: proxy.url, apiKey: 'k', cacheDir, concurrency: 16, timeoutMs: 2000,
        retry: { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 50 },
      });
      const result = await generateRationales({ client, strategy: zeroShotCoT(), examples, outFile, concurrency: 16 });
      expect(result).toMatchObject({ written: 110, skipped: 0, failed: [] });
      const ids = records(outFile).map((r) => r.exampleId);
      expect(new Set(ids).size).toBe(110);
      expect(ids).toHaveLength(110);
      expect(records(outFile).every((r) => r.correct === !examples.find((e) => e.id === r.exampleId)!.question.includes('tricky'))).toBe(true);
      const usage = result.usage!;
      const retries = Object.values(usage.retries).reduce((a, b) => a + b, 0);
      const injected = Object.entries(proxy.counts).filter(([k]) => k !== 'pass').reduce((a, [, v]) => a + v, 0);
      expect(usage.requests).toBeGreaterThanOrEqual(220);
      expect(retries).toBeGreaterThanOrEqual(injected); // (under heavy load a passed request may time out too)
      expect(usage.requests).toBe(220 + retries);
      for (const kind of ['rate-limit', 'server', 'connection', 'timeout', 'bad-response'] as const) expect(usage.retries[kind]).toBeGreaterThan(0);
      expect(injected / usage.requests).toBeGreaterThan(0.2);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

it('usage totals survive an interruption: interrupted and resumed counts what an uninterrupted run counts', async () => {
  const examples = sumExamples(9);
  const prices = { 'arithmetic-teacher': { prompt: 3, completion: 15 } };
  const teacher = () => new ReliableLLMClient(new ArithmeticTeacher(), { prices });
  const run = (client: LLMClient, outFile: string) => generateRationales({ client, strategy: cote(), examples, outFile, concurrency: 1 });

  const whole = (await run(teacher(), join(tempDir(), 'rationales.jsonl'))).usage!;
  expect(whole.requests).toBe(9 * 2); // two stages for each question
  expect(whole.costUsd).toBeCloseTo((whole.promptTokens * 3 + whole.completionTokens * 15) / 1e6, 12);

  // The first attempt stops at its 7th call (as a killed process would between calls); the resume is a fresh client.
  const outFile = join(tempDir(), 'rationales.jsonl');
  const firstClient = teacher();
  let calls = 0;
  const stopping: LLMClient & { usage: UsageReport } = {
    model: firstClient.model,
    get usage() { return firstClient.usage; },
    complete: (request) => (++calls === 7 ? Promise.reject(new Error('interrupted')) : firstClient.complete(request)),
    chat: (request) => firstClient.chat(request),
  };
  await expect(run(stopping, outFile)).rejects.toThrow('interrupted');
  const saved = readJson(`${outFile}.usage.json`) as UsageReport;
  expect(saved.requests).toBe(6);
  const resumed = await run(teacher(), outFile);
  expect(resumed.skipped).toBeGreaterThan(0);
  expect(resumed.usage).toEqual({ ...whole, costUsd: expect.closeTo(whole.costUsd, 12) });
  // A rerun with everything done adds nothing and still reports the totals.
  expect((await run(teacher(), outFile)).usage).toEqual(resumed.usage);
});

it('an unreachable server stops the run with one clear error, and nothing is marked done', async () => {
  const closed = await startServer({ client: new ArithmeticTeacher() });
  await closed.close();
  const outFile = join(tempDir(), 'rationales.jsonl');
  const client = createOpenAIClient({ model: 'm', baseURL: closed.url, retry: { maxAttempts: 2, baseDelayMs: 1 } });
  await expect(generateRationales({ client, strategy: zeroShotCoT(), examples: sumExamples(5), outFile }))
    .rejects.toThrow(`${closed.url}/completions: cannot connect (ECONNREFUSED) (gave up after 2 attempts)`);
  expect(existsSync(`${outFile}.done`)).toBe(false);
});

describe('end to end: teacher strategies against `serve` on a tiny checkpoint', () => {
  let server: RunningServer;
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    await initBackend('wasm');
    const dir = join(tempDir(), 'tiny-teacher');
    await writeTinyCheckpoint(dir, 3);
    server = await startServer({ checkpoint: dir, batchWindowMs: 20 });
  });
  afterAll(() => server.close());

  it('runs every strategy over real HTTP; the second run makes zero server calls', async () => {
    const examples: Example[] = [
      { id: 'q/0', question: 'What is 1 + 2?', answers: ['3'], answerType: 'number' },
      { id: 'q/1', question: 'Is the sky blue?', answers: ['yes'], answerType: 'yes-no' },
    ];
    // The tiny checkpoint reads 256 tokens and the server refuses longer prompts: the shortest real demonstration,
    // without its Wikipedia paragraphs, fits.
    const shortest = loadCoTDemos(join(DATA, '2wikimultihopqa', 'ircot_cot_demos.txt'))
      .map((demo) => ({ ...demo, context: [] }))
      .sort((a, b) => renderDemo(a).length - renderDemo(b).length)[0];
    expect(renderDemo(shortest).length).toBeLessThan(200);
    const demos = [shortest];
    const options = { maxTokens: 8 };
    const strategies = [zeroShotCoT(options), fewShotCoT(demos, options), rationalization(options), cote(zeroShotCoT(options)),
      crop(zeroShotCoT(options), rationalization(options)), diverse({ ...options, samples: 3 })];
    const dir = tempDir();
    const cacheDir = join(dir, 'cache');
    const runAll = async () => {
      const client = createOpenAIClient({ model: 'tiny-teacher', baseURL: server.url, cacheDir, concurrency: 8 });
      const written: Record<string, number> = {};
      for (const strategy of strategies) {
        const outFile = join(dir, `${strategy.name}-${Object.keys(written).length}.jsonl`);
        written[strategy.name] = (await generateRationales({ client, strategy, examples, outFile })).written;
      }
      return { written, usage: client.usage };
    };
    const first = await runAll();
    expect(first.written['zero-shot-cot']).toBe(2);
    expect(first.written['few-shot-cot']).toBe(2);
    expect(first.written.rationalization).toBe(2);
    expect(first.written.diverse).toBeGreaterThanOrEqual(2);
    const zeroShot = records(join(dir, 'zero-shot-cot-0.jsonl'));
    expect(zeroShot.every((r) => r.model === 'tiny-teacher' && r.strategy === 'zero-shot-cot' && typeof r.correct === 'boolean')).toBe(true);
    expect(first.usage.requests).toBeGreaterThan(0);

    // Fresh output files, so every example is generated again: all of it from the cache.
    const served = server.stats.requests;
    const client = createOpenAIClient({ model: 'tiny-teacher', baseURL: server.url, cacheDir, concurrency: 8 });
    for (const [i, strategy] of strategies.entries()) {
      await generateRationales({ client, strategy, examples, outFile: join(dir, `rerun-${i}.jsonl`) });
    }
    expect(server.stats.requests).toBe(served);
    expect(client.usage.requests).toBe(0);
    expect(client.usage.cacheHits).toBe(first.usage.requests + first.usage.cacheHits);
    const byId = (rs: RationaleRecord[]) => [...rs].sort((a, b) => a.exampleId.localeCompare(b.exampleId));
    expect(byId(records(join(dir, 'rerun-0.jsonl')))).toEqual(byId(zeroShot));
  }, 90_000);
});

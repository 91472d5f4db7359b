import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenAIClient, OpenAICompatibleClient } from '../../lib/llm/openai-client';
import { startServer, type RunningServer } from '../../lib/llm/server';
import { logger, setConsoleLevel, setLogFile } from '../../lib/log/logger';
import { ArithmeticTeacher } from './support/arithmetic-teacher';
import { startFaultProxy, type Fault } from './support/fault-proxy';

const KEY = 'sk-test-0123456789abcdef';
let server: RunningServer;
const tempDir = () => mkdtempSync(join(tmpdir(), 'rrl-llm-'));

beforeAll(async () => {
  server = await startServer({ client: new ArithmeticTeacher() });
});
afterAll(() => server.close());

describe('OpenAI-compatible client against the project server over HTTP', () => {
  it('serves /v1/models and binds 127.0.0.1', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const body = await (await fetch(`${server.url}/models`)).json() as { data: { id: string }[] };
    expect(body.data.map((m) => m.id)).toEqual(['arithmetic-teacher']);
  });

  it('completions with n samples and chat round-trip through the openai package', async () => {
    const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: KEY });
    const result = await client.complete({ prompt: "Q: What is 3 + 4?\nA: Let's think step by step.", n: 3, temperature: 0.7, maxTokens: 20 });
    expect(result.choices.map((c) => c.text)).toEqual([' 3 plus 4 makes 7.', ' Adding 3 and 4 gives 7.', ' 3 plus 4 makes 7.']);
    expect(result.choices[0].finishReason).toBe('stop');
    expect(result.usage.promptTokens).toBe(Math.ceil("Q: What is 3 + 4?\nA: Let's think step by step.".length / 4));
    const chat = await client.chat({ messages: [{ role: 'user', content: 'Q: What is 5 + 6?\nA:' }], maxTokens: 20 });
    expect(chat.choices[0].text).toBe(' 5 plus 6 is 11. So the answer is: 11.');
    expect(client.usage.requests).toBe(2);
  });

  it('a rerun is served from the disk cache with zero server calls; the key is never stored', async () => {
    const cacheDir = tempDir();
    const prompts = Array.from({ length: 6 }, (_, i) => `Q: What is ${i} + 1?\nA:`);
    const run = async () => {
      const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: KEY, cacheDir, concurrency: 3 });
      const texts = await Promise.all(prompts.map(async (prompt) => (await client.complete({ prompt, temperature: 1, n: 2 })).choices.map((c) => c.text)));
      return { texts, usage: client.usage };
    };
    const before = server.stats.requests;
    const first = await run();
    expect(server.stats.requests - before).toBe(6);
    const second = await run();
    expect(server.stats.requests - before).toBe(6);
    expect(second.texts).toEqual(first.texts);
    expect([second.usage.requests, second.usage.cacheHits]).toEqual([0, 6]);
    for (const shard of readdirSync(cacheDir)) {
      for (const file of readdirSync(join(cacheDir, shard))) expect(readFileSync(join(cacheDir, shard, file), 'utf8')).not.toContain(KEY);
    }
  });

  it('identical requests in flight share one call', async () => {
    const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: KEY, cacheDir: tempDir() });
    const before = server.stats.requests;
    await Promise.all(Array.from({ length: 5 }, () => client.complete({ prompt: 'Q: What is 1 + 1?\nA:' })));
    expect(server.stats.requests - before).toBe(1);
  });

  it('retries 429 (Retry-After), 500, 503, resets, hangs, truncated JSON and missing fields to success', async () => {
    const plan: Fault[] = ['rate-limit', 'server-500', 'server-503', 'reset', 'hang', 'truncated', 'missing-fields'];
    const proxy = await startFaultProxy(server.url, (n) => plan[n] ?? 'pass');
    const logFile = join(tempDir(), 'log.jsonl');
    setLogFile(logFile);
    setConsoleLevel('error');
    logger.level = 'debug';
    try {
      const client = createOpenAIClient({
        model: 'arithmetic-teacher', baseURL: proxy.url, apiKey: KEY, timeoutMs: 1500,
        retry: { baseDelayMs: 5, maxAttempts: 10 },
      });
      const result = await client.complete({ prompt: 'Q: What is 2 + 2?\nA:' });
      expect(result.choices[0].text).toBe(' 2 plus 2 is 4. So the answer is: 4.');
      expect(client.usage.retries).toEqual({ 'rate-limit': 1, server: 2, connection: 1, timeout: 1, 'bad-response': 2 });
      expect(client.usage.requests).toBe(8);
      await new Promise((r) => setTimeout(r, 200)); // let the file transport flush
      const log = readFileSync(logFile, 'utf8');
      expect(log).toContain('HTTP 429 rate limited; retry 1');
      expect(log).not.toContain(KEY);
    } finally {
      logger.level = 'info';
      setConsoleLevel('info');
      setLogFile(undefined);
      await proxy.close();
    }
  });

  it('honours Retry-After in seconds', async () => {
    const proxy = await startFaultProxy(server.url, (n) => (n === 0 ? 'rate-limit' : 'pass'), '1');
    try {
      const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: proxy.url, apiKey: KEY, retry: { baseDelayMs: 1 } });
      const start = Date.now();
      await client.complete({ prompt: 'Q: What is 2 + 3?\nA:' });
      expect(Date.now() - start).toBeGreaterThanOrEqual(950);
    } finally {
      await proxy.close();
    }
  });

  it('fails at once on a 400, naming the field', async () => {
    const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: KEY });
    await expect(client.complete({ prompt: 'x', temperature: -1 })).rejects.toThrow(/HTTP 400 .*temperature/);
    expect(client.usage.requests).toBe(1);
    expect(client.usage.retries).toEqual({});
  });

  it('a server in front of a failing remote client passes on a status worth retrying', async () => {
    const proxy = await startFaultProxy(server.url, () => 'rate-limit', '3');
    const relay = await startServer({ client: createOpenAIClient({ model: 'arithmetic-teacher', baseURL: proxy.url, apiKey: KEY, retry: { maxAttempts: 1 } }) });
    try {
      const response = await fetch(`${relay.url}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Q: What is 1 + 1?\nA:' }) });
      expect(response.status).toBe(429);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/HTTP 429 rate limited \(gave up after 1 attempts\)$/);
    } finally {
      await relay.close();
      await proxy.close();
    }
  });

  it('a missing API key or an unreachable base URL gives one clear message', async () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      expect(() => new OpenAICompatibleClient({ model: 'gpt-x', baseURL: 'https://llm.example.com/v1' }))
        .toThrow('LLM client: no API key for https://llm.example.com/v1; set OPENAI_API_KEY or pass apiKey');
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
    const closed = await startServer({ client: new ArithmeticTeacher() });
    await closed.close(); // a port nothing listens on
    const client = createOpenAIClient({ model: 'm', baseURL: closed.url, apiKey: KEY, retry: { maxAttempts: 2, baseDelayMs: 1 } });
    await expect(client.complete({ prompt: 'x' })).rejects.toThrow(
      `${closed.url}/completions: cannot connect (ECONNREFUSED) (gave up after 2 attempts)`);
  });
});

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, DiskCache } from '../../lib/llm/cache';
import { LLMError } from '../../lib/llm/errors';
import { ConcurrencyLimiter } from '../../lib/llm/limiter';
import { parseRetryAfter, retryDelay, withRetries } from '../../lib/llm/retry';
import { UsageMeter } from '../../lib/llm/accounting';

describe('Retry-After and backoff', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.25')).toBe(250);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0); // in the past: no wait
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('full jitter: uniform(0, min(cap, base * 2^k)); Retry-After wins, capped', () => {
    const error = new LLMError('x', 'server');
    const options = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((k) => retryDelay(k, error, options))).toEqual([50, 100, 200, 400, 500, 500]);
    expect(retryDelay(3, error, { ...options, random: () => 0 })).toBe(0);
    const limited = new LLMError('x', 'rate-limit', { status: 429, retryAfterMs: 7000 });
    expect(retryDelay(0, limited, options)).toBe(7000);
    expect(retryDelay(0, limited, { ...options, maxRetryAfterMs: 3000 })).toBe(3000);
  });

  it('retries transient failures up to maxAttempts, and never a bad request', async () => {
    let calls = 0;
    const seen: string[] = [];
    const value = await withRetries(async () => {
      calls++;
      if (calls === 1) throw new LLMError('busy', 'rate-limit', { retryAfterMs: 1 });
      if (calls === 2) throw new LLMError('down', 'server');
      return 'ok';
    }, { baseDelayMs: 1 }, (e) => seen.push(e.kind));
    expect([value, calls, seen]).toEqual(['ok', 3, ['rate-limit', 'server']]);

    calls = 0;
    await expect(withRetries(async () => {
      calls++;
      throw new LLMError('down', 'timeout');
    }, { maxAttempts: 3, baseDelayMs: 1 }, () => {})).rejects.toThrow('down (gave up after 3 attempts)');
    expect(calls).toBe(3);

    calls = 0;
    await expect(withRetries(async () => {
      calls++;
      throw new LLMError('HTTP 400 bad field', 'request', { status: 400 });
    }, { baseDelayMs: 1 }, () => {})).rejects.toThrow('HTTP 400 bad field');
    expect(calls).toBe(1);
  });
});

describe('disk cache', () => {
  it('keys on every field, not on key order; round-trips; treats a damaged file as a miss', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
    const cache = new DiskCache(mkdtempSync(join(tmpdir(), 'rrl-cache-')));
    const base = { kind: 'completion' as const, model: 'm', request: { prompt: 'Q', temperature: 0.7, n: 2 } };
    const key = cache.key(base);
    expect(cache.key({ ...base, request: { n: 2, temperature: 0.7, prompt: 'Q' } })).toBe(key);
    for (const changed of [{ n: 3 }, { temperature: 0.8 }, { seed: 1 }, { stop: ['\n'] }, { prompt: 'Q ' }]) {
      expect(cache.key({ ...base, request: { ...base.request, ...changed } })).not.toBe(key);
    }
    expect(cache.key({ ...base, model: 'other' })).not.toBe(key);
    expect(cache.get(key)).toBeUndefined();
    const result = { model: 'm', choices: [{ text: 'a', finishReason: 'stop' }, { text: 'b', finishReason: 'length' }], usage: { promptTokens: 3, completionTokens: 2 } };
    cache.set(key, base, { ...result, cached: false });
    expect(cache.get(key)).toEqual(result);
    const [shard] = readdirSync(cache.dir);
    const file = join(cache.dir, shard, `${key}.json`);
    expect(JSON.parse(readFileSync(file, 'utf8')).request).toEqual(base.request);
    writeFileSync(file, '{"key": "' + key.slice(0, 10)); // a damaged entry
    expect(cache.get(key)).toBeUndefined();
  });
});

describe('concurrency limiter and usage meter', () => {
  it('never runs more than the limit at once', async () => {
    const limiter = new ConcurrencyLimiter(3);
    let active = 0;
    let peak = 0;
    await Promise.all(Array.from({ length: 20 }, (_, i) => limiter.run(async () => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 1 + (i % 4)));
      active--;
    })));
    expect(peak).toBe(3);
    expect(() => new ConcurrencyLimiter(0)).toThrow('concurrency must be a positive integer, got 0');
  });

  it('prices tokens per million', () => {
    const meter = new UsageMeter({ big: { prompt: 2.5, completion: 10 } });
    meter.tokens('big', 1000, 200);
    meter.tokens('free', 1000, 1000);
    meter.retry('rate-limit');
    meter.retry('rate-limit');
    meter.retry('timeout');
    const report = meter.snapshot();
    expect(report.costUsd).toBeCloseTo((1000 * 2.5 + 200 * 10) / 1e6, 12);
    expect([report.promptTokens, report.completionTokens]).toEqual([2000, 1200]);
    expect(report.retries).toEqual({ 'rate-limit': 2, timeout: 1 });
  });
});

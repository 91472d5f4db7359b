import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { initBackend } from '../../lib/backend';
import { LLMError } from '../../lib/llm/errors';
import { LocalLLMClient, streamableText } from '../../lib/llm/local-client';
import { createOpenAIClient } from '../../lib/llm/openai-client';
import { ServerConfigError, startServer, type RunningServer } from '../../lib/llm/server';
import { generate, sequenceLogProbs } from '../../lib/model';
import { writeTinyCheckpoint } from './support/tiny-checkpoint';

let dir: string;
let local: LocalLLMClient;
let server: RunningServer;
let api: OpenAI;
const CONTEXT = 256; // the tiny checkpoint's maxSeqLen

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const errorOf = async (response: Response) => ((await response.json()) as { error: { message: string; type: string; code: string | null } }).error;

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await initBackend('wasm');
  dir = join(mkdtempSync(join(tmpdir(), 'rrl-parity-')), 'tiny-student');
  await writeTinyCheckpoint(dir);
  local = await LocalLLMClient.fromCheckpoint(dir, { batchWindowMs: 5 });
  server = await startServer({ client: local, limits: { maxBodyBytes: 64 * 1024 } });
  api = new OpenAI({ baseURL: server.url, apiKey: 'local', maxRetries: 0 });
});
afterAll(() => server.close());

describe('streaming', () => {
  it('the openai SDK streams a completion: the chunks join to the non-streamed text, usage in the last chunk', async () => {
    const request = { model: 'tiny-student', prompt: 'Q: What is 2 + 3?\nA:', max_tokens: 10, temperature: 0 };
    const whole = await api.completions.create(request);
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const chunk of await api.completions.create({ ...request, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
    expect(chunks.map((c) => c.choices.map((choice) => choice.text).join('')).join('')).toBe(whole.choices[0].text);
    expect(chunks.flatMap((c) => c.choices).filter((c) => c.finish_reason).map((c) => c.finish_reason)).toEqual([whole.choices[0].finish_reason]);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(whole.usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('the openai SDK streams a chat reply with a role delta, content, finish reason; the wire is data: lines and [DONE]', async () => {
    const request = { model: 'tiny-student', messages: [{ role: 'user' as const, content: 'Hi' }], max_tokens: 8, temperature: 0 };
    const whole = await api.chat.completions.create(request);
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of await api.chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.choices[0].message.content);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);

    const raw = await (await post(server.url, '/chat/completions', { ...request, stream: true })).text();
    const events = raw.split('\n\n').filter(Boolean);
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events[events.length - 1]).toBe('data: [DONE]');
    expect(raw.endsWith('\n\n')).toBe(true);
  });
});

describe('token-by-token streaming', () => {
  it('a completion arrives in many chunks as it is decoded, per choice, joining to the non-streamed text', async () => {
    const request = { model: 'tiny-student', prompt: 'Q: What is 2 + 3?\nA:', max_tokens: 20, temperature: 1, seed: 5, n: 2 };
    const whole = await api.completions.create(request);
    const texts = ['', ''];
    const contentChunks = [0, 0];
    let chunkAfterFullText = false;
    for await (const chunk of await api.completions.create({ ...request, stream: true })) {
      for (const choice of chunk.choices) {
        if (choice.finish_reason) continue;
        if (texts[choice.index] === whole.choices[choice.index].text) chunkAfterFullText = true;
        texts[choice.index] += choice.text;
        contentChunks[choice.index]++;
      }
    }
    expect(texts).toEqual(whole.choices.map((c) => c.text));
    expect(chunkAfterFullText).toBe(false);
    // Each of the tiny model's characters is one token: a choice of L characters comes as L chunks, not one.
    for (const [k, choice] of whole.choices.entries()) {
      expect(choice.text.length).toBeGreaterThan(5);
      expect(contentChunks[k]).toBe(choice.text.length);
    }
  });

  it('a chat reply streams its content as it is decoded, after the role delta', async () => {
    const request = { model: 'tiny-student', messages: [{ role: 'user' as const, content: 'Hi' }], max_tokens: 20, temperature: 1, seed: 1 };
    const whole = await api.chat.completions.create(request);
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of await api.chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.slice(1).map((c) => c.choices[0].delta.content).filter((text) => text !== undefined);
    expect(content.join('')).toBe(whole.choices[0].message.content);
    expect(whole.choices[0].message.content!.length).toBeGreaterThan(5);
    expect(content.length).toBe(whole.choices[0].message.content!.length);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
  });

  it('a client that leaves mid-stream does not stop the server', async () => {
    const abort = new AbortController();
    const response = await fetch(`${server.url}/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: abort.signal,
      body: JSON.stringify({ model: 'tiny-student', prompt: 'Q: 1 + 1?\nA:', max_tokens: 40, temperature: 1, seed: 5, stream: true }),
    });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^data: \{/);
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the generation runs on, writing to a closed socket
    expect((await fetch(`${server.url.replace(/\/v1$/, '')}/health`)).status).toBe(200);
    const after = await api.completions.create({ model: 'tiny-student', prompt: 'Q: 1 + 1?\nA:', max_tokens: 4, temperature: 0 });
    expect(after.choices[0].finish_reason).toBeDefined();
  });

  it('held back while it may still become a stop string or an incomplete character', () => {
    expect(streamableText('the answer is 4\nQ', ['\nQ:'])).toBe('the answer is 4');
    expect(streamableText('the answer is 4\n', ['\nQ:', 'xyz'])).toBe('the answer is 4');
    expect(streamableText('the answer is 4\nR', ['\nQ:'])).toBe('the answer is 4\nR');
    expect(streamableText('caf\uFFFD', [])).toBe('caf');
    expect(streamableText('a\uFFFDb', [])).toBe('a\uFFFDb');
  });
});

describe('lm-evaluation-harness requests', () => {
  it('loglikelihood (token-id prompt, echo, logprobs, max_tokens 0 or 1) gives the per-token log-probs of a full forward', async () => {
    const ids = local.promptIds('Q: abc?\nA: cba');
    const expected = tf.tidy(() => Array.from(sequenceLogProbs(local.lm, tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync()));
    for (const maxTokens of [0, 1]) {
      const response = await api.completions.create({ model: 'tiny-student', prompt: ids, echo: true, logprobs: 1, max_tokens: maxTokens, temperature: 0 });
      const logprobs = response.choices[0].logprobs!;
      expect(logprobs.tokens!.length).toBe(ids.length + maxTokens);
      expect(logprobs.tokens!.slice(0, ids.length)).toEqual(ids.map((id) => local.tokenizer.decode([id])));
      expect(logprobs.token_logprobs![0]).toBeNull();
      expect(logprobs.top_logprobs![0]).toBeNull();
      expected.forEach((value, t) => expect(logprobs.token_logprobs![t + 1]).toBeCloseTo(value, 4));
      // top_logprobs holds the most likely token at each position: never less likely than the actual one
      for (let t = 1; t < ids.length; t++) {
        const [best] = Object.values(logprobs.top_logprobs![t]!);
        expect(best).toBeGreaterThanOrEqual(logprobs.token_logprobs![t]! - 1e-5);
      }
      expect(response.usage!.prompt_tokens).toBe(ids.length);
    }
  });

  it('a list of token-id prompts gives one choice per prompt; echo prefixes the prompt text', async () => {
    const prompts = [local.promptIds('Q: one?'), local.promptIds('Q: two?')];
    const response = await api.completions.create({ model: 'tiny-student', prompt: prompts, echo: true, max_tokens: 3, temperature: 0 });
    expect(response.choices).toHaveLength(2);
    expect(response.choices[0].text.startsWith('Q: one?')).toBe(true);
    expect(response.choices[1].text.startsWith('Q: two?')).toBe(true);
  });

  it('generated tokens carry real top_logprobs, most likely first, the greedy pick first of all', async () => {
    const response = await api.completions.create({ model: 'tiny-student', prompt: 'Q: x?\nA:', max_tokens: 4, temperature: 0, logprobs: 3 });
    const logprobs = response.choices[0].logprobs!;
    logprobs.top_logprobs!.forEach((top, i) => {
      const values = Object.values(top!); // an object: its key order is not the rank order
      expect(values.length).toBeGreaterThanOrEqual(2); // 3 asked; distinct ids may decode to one string
      expect(Math.max(...values)).toBeCloseTo(logprobs.token_logprobs![i]!, 5); // greedy: the chosen token is the best
      expect(Object.keys(top!)).toContain(logprobs.tokens![i]);
    });
  });
});

describe('chat parity', () => {
  it('content parts, developer and tool roles and null content are accepted; parts equal the joined string', async () => {
    const asString = await api.chat.completions.create({ model: 'tiny-student', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 6, temperature: 0 });
    const asParts = await api.chat.completions.create({ model: 'tiny-student', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] }], max_tokens: 6, temperature: 0 });
    expect(asParts.choices[0].message.content).toBe(asString.choices[0].message.content);
    const roles = await post(server.url, '/chat/completions', {
      model: 'tiny-student', max_tokens: 2, messages: [
        { role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' },
        { role: 'assistant', content: null, tool_calls: [] }, { role: 'tool', content: '42', tool_call_id: 'x' },
      ],
    });
    expect(roles.status).toBe(200);
    const image = await post(server.url, '/chat/completions', { model: 'tiny-student', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] });
    expect(image.status).toBe(400);
    expect((await errorOf(image)).message).toMatch(/^messages\.0\.content/);
  });

  it('chat max_tokens defaults to the context left, not 16', async () => {
    const response = await api.chat.completions.create({ model: 'tiny-student', messages: [{ role: 'user', content: 'Hi' }], temperature: 1, seed: 3, stop: [], n: 4 });
    const usage = response.usage!;
    const perChoice = usage.prompt_tokens; // one prompt for n choices: prompt_tokens is counted once
    const longest = Math.max(...await Promise.all(response.choices.map(async (c) => local.tokenizer.encode(c.message.content ?? '').length)));
    // either a choice ran to the end of the context, or every choice stopped by itself; none was cut at 16
    const lengths = response.choices.map((c) => c.finish_reason);
    if (lengths.includes('length')) expect(usage.completion_tokens).toBeGreaterThanOrEqual(CONTEXT - perChoice);
    else expect(lengths.every((r) => r === 'stop')).toBe(true);
    expect(lengths.includes('length') ? longest : 17).toBeGreaterThan(16);
  });
});

describe('routes and errors', () => {
  it('GET /v1/models/{id} (the SDK\'s models.retrieve), 404 for another id; /health', async () => {
    expect((await api.models.retrieve('tiny-student')).id).toBe('tiny-student');
    const missing = await fetch(`${server.url}/models/gpt-4`);
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toMatchObject({ type: 'not_found_error', code: 'model_not_found' });
    const health = await fetch(server.url.replace(/\/v1$/, '/health'));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${server.url}/completions`)).status).toBe(405);
  });

  it('every client error is a 4xx naming the field or limit, OpenAI-shaped', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ prompt: 'x', stop: Array.from({ length: 30_000 }, () => 'aaaa') }, 413, /limit maxBodyBytes/],
      [{ prompt: 'x', stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 400, /17 stop strings.*at most 16 \(limit maxStops\)/],
      [{ prompt: 'x', stop: ['a'.repeat(257)] }, 400, /stop\.0: 257 characters.*limit maxStopLength/],
      [{ prompt: Array.from({ length: 16 }, () => 'x'), n: 128 }, 400, /2048 sequences.*limit maxSequences/],
      [{ prompt: 'x'.repeat(300) }, 400, /maximum context length is 256 tokens. However, your prompt is 301 tokens/],
      [{ prompt: 'x', max_tokens: 300 }, 400, /maximum context length is 256 tokens. However, you requested 302 tokens \(2 in the prompt, 300 for the completion\)/],
      [{ prompt: [1, 2, 99999] }, 400, /prompt token 2 is 99999/],
      [{ prompt: 'x', temperature: -1 }, 400, /^temperature: /],
      [{ prompt: 'x', n: 0 }, 400, /^n: /],
      [[1, 2], 400, /^body: /],
      ['{"prompt": ', 400, /not JSON/],
    ];
    for (const [body, status, message] of cases) {
      const response = await post(server.url, '/completions', body);
      expect([response.status, (await errorOf(response)).message]).toEqual([status, expect.stringMatching(message)]);
    }
    const empty = await api.completions.create({ model: 'tiny-student', prompt: 'x', max_tokens: 0 });
    expect(empty.choices[0]).toMatchObject({ text: '', finish_reason: 'length' });
  });

  it('/health answers while a long generation is running (decoding yields between steps)', async () => {
    const order: string[] = [];
    const long = api.completions.create({ model: 'tiny-student', prompt: 'Q:', max_tokens: 200, n: 16, temperature: 1, stop: [] }).then(() => order.push('completion'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fetch(server.url.replace(/\/v1$/, '/health')).then(() => order.push('health'));
    await api.models.list().then(() => order.push('models'));
    await long;
    expect(order).toEqual(['health', 'models', 'completion']);
  });
});

describe('limits on the connection', () => {
  it('a full queue answers 429 with Retry-After', async () => {
    const busy = await startServer({ client: local, limits: { maxPending: 1 } });
    try {
      const first = post(busy.url, '/completions', { prompt: 'Q:', max_tokens: 100, n: 8, stop: [] });
      await new Promise((resolve) => setTimeout(resolve, 30));
      const second = await post(busy.url, '/completions', { prompt: 'Q:', max_tokens: 1 });
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('1');
      expect((await errorOf(second)).message).toMatch(/limit maxPending 1/);
      expect((await first).status).toBe(200);
    } finally {
      await busy.close();
    }
  });

  it('a client that never finishes its headers is cut off; connections past the cap are closed', async () => {
    const strict = await startServer({ client: local, limits: { headersTimeoutMs: 200, bodyTimeoutMs: 400, maxConnections: 1 } });
    const { hostname, port } = new URL(strict.url);
    const openSocket = () => new Promise<{ closed: Promise<string> }>((resolve) => {
      const socket = connect(Number(port), hostname, () => {
        let received = '';
        socket.on('data', (d) => (received += d.toString()));
        resolve({ closed: new Promise((done) => socket.on('close', () => done(received))) });
      });
    });
    try {
      const slow = await openSocket();
      const extra = await openSocket(); // over maxConnections 1: closed at once with no answer
      expect(await extra.closed).toBe('');
      // the connection that sent nothing within headersTimeoutMs gets 408 and a closed socket
      expect(await slow.closed).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await strict.close();
    }
  });
});

describe('API key', () => {
  it('is required on every route but /health', async () => {
    const guarded = await startServer({ client: local, apiKey: 'sk-test-123' });
    try {
      expect((await fetch(guarded.url.replace(/\/v1$/, '/health'))).status).toBe(200);
      const anonymous = await fetch(`${guarded.url}/models`);
      expect(anonymous.status).toBe(401);
      expect((await errorOf(anonymous)).code).toBe('invalid_api_key');
      expect((await post(guarded.url, '/completions', { prompt: 'x', max_tokens: 1 }, { authorization: 'Bearer wrong' })).status).toBe(401);
      const sdk = new OpenAI({ baseURL: guarded.url, apiKey: 'sk-test-123', maxRetries: 0 });
      expect((await sdk.completions.create({ model: 'tiny-student', prompt: 'x', max_tokens: 1 })).choices).toHaveLength(1);
    } finally {
      await guarded.close();
    }
  });

  it('binding beyond loopback without a key is refused unless allowed', async () => {
    await expect(startServer({ client: local, host: '0.0.0.0' })).rejects.toThrow(ServerConfigError);
    await expect(startServer({ client: local, host: '0.0.0.0' })).rejects.toThrow(/without an API key/);
  });
});

describe('clients and the context', () => {
  it('the local client refuses a prompt longer than the context, naming the request and both numbers', async () => {
    const attempt = local.complete({ prompt: 'Q: ' + 'y'.repeat(400), maxTokens: 4 });
    await expect(attempt).rejects.toThrow(LLMError);
    await expect(local.complete({ prompt: 'Q: ' + 'y'.repeat(400), maxTokens: 4 })).rejects.toThrow(/completion request with prompt "Q: y+\.\.\.": the prompt is 404 tokens but tiny-student's context is 256 tokens/);
  });

  it('longPrompts keep-end (the in-process judge) feeds the prompt\'s end, as generate() cuts a text prompt, and counts it', async () => {
    const judge = new LocalLLMClient(local.lm, local.tokenizer, { longPrompts: 'keep-end' });
    const prompt = 'Q: ' + 'ab'.repeat(200) + '?\nA:';
    const result = await judge.complete({ prompt, maxTokens: 5, temperature: 0 });
    const [expected] = await generate(local.lm, local.tokenizer, [prompt], { maxNewTokens: 5, greedy: true, addBos: true });
    expect(result.choices[0].text).toBe(expected.text);
    expect(result.usage.promptTokens).toBe(CONTEXT - 1);
    expect(judge.stats.cutPrompts).toBe(1);
  });

  it('the OpenAI-compatible client reports the server\'s 400 with both numbers, without retrying', async () => {
    const remote = createOpenAIClient({ model: 'tiny-student', baseURL: server.url, retry: { maxAttempts: 3, baseDelayMs: 1 } });
    const before = server.stats.requests;
    const failure = await remote.complete({ prompt: 'z'.repeat(500), maxTokens: 1 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LLMError);
    expect((failure as LLMError).kind).toBe('request');
    expect((failure as LLMError).message).toMatch(/HTTP 400 .*maximum context length is 256 tokens. However, your prompt is 501 tokens/);
    expect(server.stats.requests - before).toBe(1);
  });

  it('per-settings batcher state is dropped: many distinct seeds leave no open batches; tensors steady', async () => {
    await local.complete({ prompt: 'warm', maxTokens: 2 });
    const tensors = tf.memory().numTensors;
    await Promise.all(Array.from({ length: 20 }, (_, seed) => local.complete({ prompt: 'Q:', maxTokens: 2, seed, stop: [`s${seed}`] })));
    expect(local.openBatches).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { initBackend } from '../../lib/backend';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { startServer, type RunningServer } from '../../lib/llm/server';
import { generate, loadCheckpoint } from '../../lib/model';
import { writeTinyCheckpoint } from './support/tiny-checkpoint';

let dir: string;
let local: LocalLLMClient;
let server: RunningServer;
let api: OpenAI;

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await initBackend('wasm');
  dir = join(mkdtempSync(join(tmpdir(), 'rrl-serve-')), 'tiny-student');
  await writeTinyCheckpoint(dir);
  local = await LocalLLMClient.fromCheckpoint(dir, { batchWindowMs: 30 });
  server = await startServer({ client: local });
  api = new OpenAI({ baseURL: server.url, apiKey: 'local', maxRetries: 0 });
});
afterAll(() => server.close());

describe('OpenAI-compatible server over a local checkpoint', () => {
  it('greedy completions match an in-process generate() of the same checkpoint, with n and logprobs', async () => {
    const prompt = 'Q: What is 2 + 3?\nA:';
    const response = await api.completions.create({ model: 'tiny-student', prompt, max_tokens: 6, temperature: 0, n: 2, logprobs: 0 });
    const { model, tokenizer } = await loadCheckpoint(dir);
    const [expected] = await generate(model, tokenizer, [prompt], { maxNewTokens: 6, greedy: true, returnLogprobs: true, addBos: true });
    model.dispose();
    expect(response.choices.map((c) => c.text)).toEqual([expected.text, expected.text]);
    expect(response.choices[0].finish_reason).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
    const logprobs = response.choices[0].logprobs!;
    expect(logprobs.tokens).toEqual(expected.tokenIds.map((id) => tokenizer.decode([id])));
    logprobs.token_logprobs!.forEach((lp, i) => expect(lp).toBeCloseTo(expected.logprobs![i], 5));
    const promptTokens = tokenizer.encode(prompt, { addBos: true }).length; // the model sees BOS first
    expect(response.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: 12, total_tokens: promptTokens + 12 });
  });

  it('cuts at a stop string, sampling with a seed', async () => {
    const request = { model: 'tiny-student', prompt: 'Q: abc?\nA:', max_tokens: 12, temperature: 1, seed: 5 };
    const free = (await api.completions.create(request)).choices[0].text;
    const stop = free[4];
    const cut = (await api.completions.create({ ...request, stop: [stop] })).choices[0];
    expect(cut.text).toBe(free.slice(0, free.indexOf(stop)));
    expect(cut.finish_reason).toBe('stop');
  });

  it('batches concurrent requests into one generate call', async () => {
    const before = { ...local.stats };
    const prompts = ['Q: one?\nA:', 'Q: two?\nA:', 'Q: three?\nA:', 'Q: four?\nA:', 'Q: five?\nA:'];
    const responses = await Promise.all(prompts.map((prompt) => api.completions.create({ model: 'tiny-student', prompt, max_tokens: 4, temperature: 0.8, n: 2 })));
    expect(responses.every((r) => r.choices.length === 2)).toBe(true);
    // Requests reach the server over separate connections, a few ms apart: fewer batches than requests.
    expect(local.stats.batches - before.batches).toBeLessThan(prompts.length);
    expect(local.stats.sequences - before.sequences).toBe(10);
    const inProcess = { ...local.stats };
    const results = await Promise.all(prompts.map((prompt, i) => local.complete({ prompt, maxTokens: 3, temperature: 0.8, n: 1 + (i % 2) })));
    expect(results.map((r) => r.choices.length)).toEqual([1, 2, 1, 2, 1]);
    expect(local.stats.batches - inProcess.batches).toBe(1);
    expect(local.stats.sequences - inProcess.sequences).toBe(7);
  });

  it('chat renders the template and stops at the next turn; memory stays flat across requests', async () => {
    const ask = () => api.chat.completions.create({ model: 'tiny-student', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, temperature: 1, seed: 1, logprobs: true });
    const first = await ask();
    expect(first.choices[0].message.role).toBe('assistant');
    expect(first.choices[0].message.content).not.toContain('\n\nUser:');
    expect(first.choices[0].logprobs!.content!.length).toBeGreaterThan(0);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await ask();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('answers bad requests with 400 naming the field, and unknown routes with 404', async () => {
    const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post('/chat/completions', { model: 'x', messages: [] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^messages: /);
    const notJson = await fetch(`${server.url}/completions`, { method: 'POST', body: '{"prompt": ' });
    expect(notJson.status).toBe(400);
    expect((await post('/embeddings', {})).status).toBe(404);
    expect(server.stats.errors).toBeGreaterThanOrEqual(2);
  });

  it('startServer({ checkpoint }) loads the folder and names the model after it', async () => {
    const own = await startServer({ checkpoint: dir });
    try {
      const models = await (await fetch(`${own.url}/models`)).json() as { data: { id: string }[] };
      expect(models.data[0].id).toBe('tiny-student');
    } finally {
      await own.close();
    }
  });
});

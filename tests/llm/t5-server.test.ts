import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { initBackend } from '../../lib/backend';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { startServer, type RunningServer } from '../../lib/llm/server';
import type { T5Model } from '../../lib/model/t5';
import { t5Generate } from '../../lib/model/t5-generate';
import { importT5Checkpoint } from '../../lib/model/t5-hf';
import type { Tokenizer } from '../../lib/tokenizer/types';

/** The T5 fixture (HF layout, Unigram tokenizer) served over real HTTP and asked through the openai SDK. */
let model: T5Model;
let tokenizer: Tokenizer;
let server: RunningServer;
let api: OpenAI;

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await initBackend('wasm');
  ({ model, tokenizer } = (await importT5Checkpoint(join(__dirname, '..', 'fixtures', 'hf', 't5-tiny'))) as { model: T5Model; tokenizer: Tokenizer });
  server = await startServer({ client: new LocalLLMClient(model, tokenizer, { name: 't5-tiny', batchWindowMs: 20 }) });
  api = new OpenAI({ baseURL: server.url, apiKey: 'local', maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  model.dispose();
});

test('completions from a T5 model equal an in-process t5Generate of the same source (text, log-probs, usage)', async () => {
  const prompt = 'hello world the cat';
  const response = await api.completions.create({ model: 't5-tiny', prompt, max_tokens: 5, temperature: 0, logprobs: 0 });
  const [expected] = await t5Generate(model, tokenizer, [prompt], { maxNewTokens: 5, greedy: true, returnLogprobs: true });
  expect(expected.tokenIds.length).toBeGreaterThan(0);
  expect(response.choices[0].text).toBe(expected.text);
  response.choices[0].logprobs!.token_logprobs!.forEach((lp, i) => expect(lp).toBeCloseTo(expected.logprobs![i], 5));
  // the source is the prompt with </s>, as T5's tokenizer writes it
  expect(response.usage!.prompt_tokens).toBe(tokenizer.encode(prompt).length + 1);
  expect(response.usage!.completion_tokens).toBe(expected.tokenIds.length);
});

test('concurrent requests are batched and answered as if alone; chat answers', async () => {
  const prompts = ['the cat', 'a cat is singing', 'world'];
  const responses = await Promise.all(prompts.map((prompt) => api.completions.create({ model: 't5-tiny', prompt, max_tokens: 4, temperature: 0 })));
  for (const [i, prompt] of prompts.entries()) {
    const [alone] = await t5Generate(model, tokenizer, [prompt], { maxNewTokens: 4, greedy: true });
    expect(responses[i].choices[0].text).toBe(alone.text);
  }
  const chat = await api.chat.completions.create({ model: 't5-tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3, temperature: 0 });
  expect(chat.choices[0].message.role).toBe('assistant');
  expect(typeof chat.choices[0].message.content).toBe('string');
});

test('echoing prompt log-probs of an encoder-decoder model is a 400, not a 5xx', async () => {
  const error = await api.completions.create({ model: 't5-tiny', prompt: 'hello world', echo: true, logprobs: 1, max_tokens: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
  expect((error as Error).message).toContain('encoder-decoder');
});

test('startServer({ checkpoint }) and LocalLLMClient.fromFolder load a HF T5 folder as a T5 model', async () => {
  const folder = join(__dirname, '..', 'fixtures', 'hf', 't5-tiny');
  const client = await LocalLLMClient.fromFolder(folder);
  expect(client.lm.constructor.name).toBe('T5Model');
  client.lm.dispose();
  const own = await startServer({ checkpoint: folder });
  try {
    const ownApi = new OpenAI({ baseURL: own.url, apiKey: 'local', maxRetries: 0 });
    expect((await ownApi.models.list()).data.map((m) => m.id)).toEqual(['t5-tiny']);
    const response = await ownApi.completions.create({ model: 't5-tiny', prompt: 'the cat', max_tokens: 4, temperature: 0 });
    const [expected] = await t5Generate(model, tokenizer, ['the cat'], { maxNewTokens: 4, greedy: true });
    expect(response.choices[0].text).toBe(expected.text);
  } finally {
    await own.close();
  }
});

test('a T5 completion streams as it is decoded: several chunks joining to t5Generate\'s text', async () => {
  const prompt = 'hello world the cat';
  const [expected] = await t5Generate(model, tokenizer, [prompt], { maxNewTokens: 8, greedy: true });
  expect(expected.tokenIds.length).toBeGreaterThan(2);
  const pieces: string[] = [];
  for await (const chunk of await api.completions.create({ model: 't5-tiny', prompt, max_tokens: 8, temperature: 0, stream: true })) {
    for (const choice of chunk.choices) if (!choice.finish_reason) pieces.push(choice.text);
  }
  expect(pieces.join('')).toBe(expected.text);
  expect(pieces.length).toBeGreaterThan(1);
});

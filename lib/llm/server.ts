import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { LLMError } from './errors';
import { LocalLLMClient } from './local-client';
import type { CompletionResult, Generation, LLMClient, SamplingRequest } from './types';

/** What {@link startServer} serves: a backing client, or a checkpoint folder to load in process. */
export interface ServerOptions {
  client?: LLMClient;
  checkpoint?: string;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Default 0: any free port (read it from `url`). */
  port?: number;
  /** Name reported by /v1/models and in responses (default: the client's model name). */
  modelName?: string;
  /** For a checkpoint: how long to gather concurrent requests into one batch (default 5 ms). */
  batchWindowMs?: number;
  /** For a checkpoint: most prompts in one batch (default 32). */
  maxBatchSize?: number;
}

/** Counts of what the server has answered. */
export interface ServerStats {
  /** Completion and chat requests answered (successfully or not); /v1/models is not counted. */
  requests: number;
  completions: number;
  chats: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
}

/** A running server. */
export interface RunningServer {
  /** Base URL for OpenAI clients, e.g. `http://127.0.0.1:41234/v1`. */
  url: string;
  stats: ServerStats;
  close(): Promise<void>;
}

const sampling = {
  model: z.string().optional(),
  max_tokens: z.number().int().min(0).nullable().optional(),
  /** The newer name of max_tokens in chat requests. */
  max_completion_tokens: z.number().int().min(0).nullable().optional(),
  temperature: z.number().min(0).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stream: z.literal(false, { error: 'streaming is not supported' }).nullable().optional(),
};

const completionBody = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1)]),
  logprobs: z.number().int().min(0).max(20).nullable().optional(),
});

const chatBody = z.object({
  ...sampling,
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
});

type Sampling = z.infer<z.ZodObject<typeof sampling>>;

function toSampling(body: Sampling, logprobs: number | undefined): SamplingRequest {
  return {
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 16,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? undefined,
    n: body.n ?? 1,
    stop: typeof body.stop === 'string' ? [body.stop] : body.stop ?? undefined,
    seed: body.seed ?? undefined,
    logprobs,
  };
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

function readJson(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk); // past the limit the rest is read and dropped
    });
    request.on('error', reject);
    request.on('end', () => {
      if (size > MAX_BODY_BYTES) return reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new HttpError(400, `request body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HttpError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

let nextId = 0;
const envelope = (object: string, model: string) =>
  ({ id: `${object === 'chat.completion' ? 'chatcmpl' : 'cmpl'}-${++nextId}`, object, created: Math.floor(Date.now() / 1000), model });

function usageOf(results: CompletionResult[], stats: ServerStats) {
  const prompt = results.reduce((s, r) => s + r.usage.promptTokens, 0);
  const completion = results.reduce((s, r) => s + r.usage.completionTokens, 0);
  stats.promptTokens += prompt;
  stats.completionTokens += completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function completionLogprobs(g: Generation) {
  if (!g.logprobs) return null;
  let offset = 0;
  return {
    tokens: g.logprobs.map((t) => t.token),
    token_logprobs: g.logprobs.map((t) => t.logprob),
    top_logprobs: g.logprobs.map((t) => Object.fromEntries((t.top ?? []).map((a) => [a.token, a.logprob]))),
    text_offset: g.logprobs.map((t) => (offset += t.token.length) - t.token.length),
  };
}

/** A backing client's failure as an HTTP status, so a client of this server retries what is worth retrying. */
function statusOf(error: LLMError): number {
  if (error.kind === 'request') return error.status ?? 400;
  if (error.kind === 'config') return 500;
  if (error.kind === 'rate-limit') return 429;
  return error.kind === 'timeout' ? 504 : 502;
}

/** Answer one /v1/completions body; a list of prompts gives n choices per prompt, in order. */
async function completions(client: LLMClient, body: unknown, model: string, stats: ServerStats) {
  const request = parseBody(completionBody, body);
  const prompts = typeof request.prompt === 'string' ? [request.prompt] : request.prompt;
  const options = toSampling(request, request.logprobs ?? undefined);
  const results = await Promise.all(prompts.map((prompt) => client.complete({ ...options, prompt })));
  const choices = results.flatMap((r) => r.choices).map((g, index) => ({
    index, text: g.text, finish_reason: g.finishReason, logprobs: completionLogprobs(g),
  }));
  return { ...envelope('text_completion', model), choices, usage: usageOf(results, stats) };
}

async function chat(client: LLMClient, body: unknown, model: string, stats: ServerStats) {
  const request = parseBody(chatBody, body);
  const top = request.logprobs ? request.top_logprobs ?? 0 : undefined;
  const result = await client.chat({ ...toSampling(request, top), messages: request.messages });
  const choices = result.choices.map((g, index) => ({
    index,
    message: { role: 'assistant', content: g.text },
    finish_reason: g.finishReason,
    logprobs: g.logprobs ? { content: g.logprobs.map((t) => ({ token: t.token, logprob: t.logprob, bytes: null, top_logprobs: t.top ?? [] })) } : null,
  }));
  return { ...envelope('chat.completion', model), choices, usage: usageOf([result], stats) };
}

async function backingClient(options: ServerOptions): Promise<LLMClient> {
  if (options.client) return options.client;
  if (!options.checkpoint) throw new Error('startServer: give `client` or `checkpoint`');
  return LocalLLMClient.fromCheckpoint(options.checkpoint, {
    batchWindowMs: options.batchWindowMs, maxBatchSize: options.maxBatchSize,
  });
}

/**
 * Serve an {@link LLMClient} (or a checkpoint folder, loaded in process) over the OpenAI HTTP API:
 * `GET /v1/models`, `POST /v1/completions` and `POST /v1/chat/completions`, with n, temperature, top_p, stop,
 * max_tokens, seed and logprobs. Binds 127.0.0.1 unless told otherwise. A checkpoint's client gathers concurrent
 * requests into batched `generate` calls.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const client = await backingClient(options);
  const model = options.modelName ?? client.model;
  const stats: ServerStats = { requests: 0, completions: 0, chats: 0, errors: 0, promptTokens: 0, completionTokens: 0 };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0].replace(/\/+$/, '');
    if (request.method === 'GET' && path === '/v1/models') {
      send(response, 200, { object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'rationale-rl' }] });
      return;
    }
    const endpoint = request.method === 'POST' && path === '/v1/completions' ? completions
      : request.method === 'POST' && path === '/v1/chat/completions' ? chat : undefined;
    if (!endpoint) {
      send(response, 404, { error: { message: `no route ${request.method} ${path}`, type: 'invalid_request_error' } });
      return;
    }
    stats.requests++;
    if (endpoint === completions) stats.completions++;
    else stats.chats++;
    try {
      send(response, 200, await endpoint(client, await readJson(request), model, stats));
    } catch (error) {
      stats.errors++;
      const status = error instanceof HttpError ? error.status : error instanceof LLMError ? statusOf(error) : 500;
      send(response, status, { error: { message: (error as Error).message, type: status < 500 && status !== 429 ? 'invalid_request_error' : 'server_error' } });
    }
  };

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    stats,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    }),
  };
}

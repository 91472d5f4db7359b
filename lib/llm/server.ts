import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LLMError } from './errors';
import { LocalLLMClient } from './local-client';
import { chat, completions, type ApiContext, type RequestLimits, type ServerStats } from './server-api';
import { HttpError, readJson, sendError, sendJson } from './server-http';
import type { LLMClient } from './types';

export type { ServerStats, RequestLimits } from './server-api';

/** Everything the server bounds; each refusal is a 4xx naming the limit. */
export interface ServerLimits extends RequestLimits {
  /** Largest request body in bytes (default 4 MiB); larger gets 413. */
  maxBodyBytes: number;
  /** Completion/chat requests being answered or waiting at once (default 64); one more gets 429 with Retry-After. */
  maxPending: number;
  /** Time allowed to send the request headers (default 10 s). */
  headersTimeoutMs: number;
  /** Time allowed to send the whole request, body included (default 30 s); Node answers 408 past it. */
  bodyTimeoutMs: number;
  /** Open connections at once (default 256); more are closed as they arrive. */
  maxConnections: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxBodyBytes: 4 * 1024 * 1024,
  maxSequences: 256,
  maxStops: 16,
  maxStopLength: 256,
  maxPending: 64,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  maxConnections: 256,
};

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
  /** Required as `Authorization: Bearer <key>` on every route but /health. */
  apiKey?: string;
  /** Allow binding beyond loopback without an API key (refused otherwise). */
  allowUnauthenticated?: boolean;
  limits?: Partial<ServerLimits>;
}

/** A running server. */
export interface RunningServer {
  /** Base URL for OpenAI clients, e.g. `http://127.0.0.1:41234/v1`. */
  url: string;
  stats: ServerStats;
  close(): Promise<void>;
}

/** Thrown by {@link startServer} for options that cannot work (a bind without a key, a port in use). */
export class ServerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerConfigError';
  }
}

const isLoopbackHost = (host: string) => /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i.test(host);

/** A backing client's failure as an HTTP status, so a client of this server retries what is worth retrying. */
function statusOf(error: LLMError): number {
  if (error.kind === 'request') return error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 400;
  if (error.kind === 'config') return 500;
  if (error.kind === 'rate-limit') return 429;
  return error.kind === 'timeout' ? 504 : 502;
}

function asHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof LLMError) return new HttpError(statusOf(error), error.message);
  return new HttpError(500, `internal error: ${(error as Error).message ?? String(error)}`);
}

/** Compares the presented key with the expected one in constant time (digests of equal length). */
function keyMatches(header: string | undefined, key: string): boolean {
  const presented = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(key));
}

async function backingClient(options: ServerOptions): Promise<LLMClient> {
  if (options.client) return options.client;
  if (!options.checkpoint) throw new ServerConfigError('startServer: give `client` or `checkpoint`');
  return LocalLLMClient.fromCheckpoint(options.checkpoint, {
    batchWindowMs: options.batchWindowMs, maxBatchSize: options.maxBatchSize,
  });
}

/**
 * Serve an {@link LLMClient} (or a checkpoint folder, loaded in process) over the OpenAI HTTP API:
 * `GET /health`, `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/completions` and `POST /v1/chat/completions`,
 * with n, temperature, top_p, stop, max_tokens, seed, logprobs (with top alternatives), echo, token-id prompts and
 * `stream` (server-sent events). Binds 127.0.0.1 unless told otherwise; beyond loopback it needs `apiKey` (or
 * `allowUnauthenticated`). Every limit in {@link ServerLimits} is answered with a 4xx naming it.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && !options.apiKey && !options.allowUnauthenticated) {
    throw new ServerConfigError(`refusing to serve on ${host} (beyond this machine) without an API key: give --api-key (or RRL_API_KEY), or --allow-unauthenticated`);
  }
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const client = await backingClient(options);
  const model = options.modelName ?? client.model;
  const stats: ServerStats = { requests: 0, completions: 0, chats: 0, errors: 0, promptTokens: 0, completionTokens: 0 };
  const context: ApiContext = { client, model, stats, limits };
  const modelCard = { id: model, object: 'model', created: 0, owned_by: 'rationale-rl' };
  let pending = 0;

  const route = async (request: IncomingMessage, response: ServerResponse, path: string) => {
    if (path === '/health') {
      if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, `${request.method} ${path}: use GET`);
      return sendJson(response, 200, { status: 'ok' });
    }
    if (options.apiKey && !keyMatches(request.headers.authorization, options.apiKey)) {
      throw new HttpError(401, 'missing or incorrect API key: send it as "Authorization: Bearer <key>"', { code: 'invalid_api_key' });
    }
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (request.method !== 'GET') throw new HttpError(405, `${request.method} ${path}: use GET`);
      if (path === '/v1/models') return sendJson(response, 200, { object: 'list', data: [modelCard] });
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (id !== model) throw new HttpError(404, `model "${id}" does not exist; this server serves "${model}"`, { code: 'model_not_found', param: 'model' });
      return sendJson(response, 200, modelCard);
    }
    const endpoint = path === '/v1/completions' ? completions : path === '/v1/chat/completions' ? chat : undefined;
    if (!endpoint) throw new HttpError(404, `no route ${request.method} ${path}`);
    if (request.method !== 'POST') throw new HttpError(405, `${request.method} ${path}: use POST`);
    stats.requests++;
    if (endpoint === completions) stats.completions++;
    else stats.chats++;
    if (pending >= limits.maxPending) {
      throw new HttpError(429, `server busy: ${pending} requests in progress (limit maxPending ${limits.maxPending}); retry after 1 s`, { code: 'queue_full', headers: { 'retry-after': '1' } });
    }
    pending++;
    try {
      await endpoint(context, await readJson(request, limits.maxBodyBytes), response);
    } finally {
      pending--;
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0].replace(/\/+$/, '');
    try {
      await route(request, response, path);
    } catch (error) {
      const httpError = asHttpError(error);
      if (path === '/v1/completions' || path === '/v1/chat/completions') stats.errors++;
      sendError(response, httpError);
    }
  };

  const server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.bodyTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  }, (request, response) => void handle(request, response));
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE'
      ? new ServerConfigError(`port ${options.port} on ${host} is already in use`)
      : error.code === 'EACCES' ? new ServerConfigError(`no permission to listen on ${host}:${options.port}`) : error));
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/v1`,
    stats,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    }),
  };
}

import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { z } from 'zod';
import { redactSecrets, registerSecret } from '../log/logger';
import type { PriceTable } from './accounting';
import { kindOfStatus, LLMError } from './errors';
import { ReliableLLMClient, type CallLayerOptions } from './reliable';
import { parseRetryAfter } from './retry';
import type { ChatRequest, CompletionRequest, CompletionResult, Generation, LLMClient, TokenLogprob } from './types';

/** Where and how to reach an OpenAI-compatible endpoint. */
export interface OpenAIClientOptions {
  /** Model name sent with every request (required). */
  model: string;
  /** Default: env `OPENAI_BASE_URL`, else https://api.openai.com/v1. */
  baseURL?: string;
  /** Default: env `OPENAI_API_KEY`. Not needed for a server on this machine (localhost / 127.0.0.1). */
  apiKey?: string;
  /** Time allowed for one attempt (default 120 s); a timeout is retried. */
  timeoutMs?: number;
}

const usageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).partial();

const completionSchema = z.object({
  model: z.string().optional(),
  choices: z.array(z.object({
    index: z.number().optional(),
    text: z.string(),
    finish_reason: z.string().nullable().optional(),
    logprobs: z.object({
      tokens: z.array(z.string()),
      token_logprobs: z.array(z.number().nullable()),
      top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullable().optional(),
    }).nullable().optional(),
  })).min(1),
  usage: usageSchema.nullable().optional(),
});

const chatSchema = z.object({
  model: z.string().optional(),
  choices: z.array(z.object({
    index: z.number().optional(),
    message: z.object({ content: z.string().nullable() }),
    finish_reason: z.string().nullable().optional(),
    logprobs: z.object({
      content: z.array(z.object({
        token: z.string(),
        logprob: z.number(),
        top_logprobs: z.array(z.object({ token: z.string(), logprob: z.number() })).optional(),
      })).nullable(),
    }).nullable().optional(),
  })).min(1),
  usage: usageSchema.nullable().optional(),
});

/** The innermost cause of a connection error, by its code (ECONNREFUSED) or message. */
function rootCause(error: Error): string {
  let inner: unknown = error;
  while (inner instanceof Error && inner.cause !== undefined) inner = inner.cause;
  const { code, message } = inner as { code?: string; message?: string };
  return code ?? message ?? String(inner);
}

const isLoopback = (url: string) => /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/i.test(url);

/** Check the response's shape; a malformed one is a transient failure (a proxy cut it, or the server erred). */
function parseResponse<T>(schema: z.ZodType<T>, body: unknown, endpoint: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new LLMError(`${endpoint}: malformed response (${issue.path.join('.') || 'body'}: ${issue.message})`, 'bad-response');
}

/** Only the sampling fields that are set, in the API's names. */
function samplingBody(request: CompletionRequest | ChatRequest) {
  return Object.fromEntries(Object.entries({
    max_tokens: request.maxTokens,
    temperature: request.temperature,
    top_p: request.topP,
    n: request.n,
    stop: request.stop?.length ? request.stop : undefined,
    seed: request.seed,
  }).filter(([, v]) => v !== undefined));
}

/**
 * A bare OpenAI-compatible client on the `openai` package: one attempt per call, its own retries off, every
 * failure turned into a classified {@link LLMError}. Use {@link createOpenAIClient} for the cached, retrying,
 * rate-limited version.
 */
export class OpenAICompatibleClient implements LLMClient {
  readonly model: string;
  readonly baseURL: string;
  private readonly timeoutMs: number;
  private readonly api: OpenAI;

  constructor(options: OpenAIClientOptions) {
    if (!options.model) throw new LLMError('LLM client: no model name given (option `model`)', 'config');
    this.model = options.model;
    this.baseURL = (options.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY ?? (isLoopback(this.baseURL) ? 'local' : undefined);
    if (!apiKey) {
      throw new LLMError(`LLM client: no API key for ${this.baseURL}; set OPENAI_API_KEY or pass apiKey`, 'config');
    }
    registerSecret(apiKey);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.api = new OpenAI({ apiKey, baseURL: this.baseURL, maxRetries: 0, timeout: this.timeoutMs + 1000 });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const body = {
      model: this.model, prompt: request.prompt, ...samplingBody(request),
      ...(request.logprobs !== undefined ? { logprobs: request.logprobs } : {}),
    };
    const response = parseResponse(completionSchema, await this.send('completions', (options) =>
      this.api.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming, options)), `${this.baseURL}/completions`);
    const choices = [...response.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((c): Generation => ({
      text: c.text,
      finishReason: c.finish_reason ?? 'stop',
      logprobs: c.logprobs ? c.logprobs.tokens.map((token, i): TokenLogprob => ({
        token,
        logprob: c.logprobs!.token_logprobs[i] ?? 0,
        top: c.logprobs!.top_logprobs?.[i]
          ? Object.entries(c.logprobs!.top_logprobs[i]!).map(([t, logprob]) => ({ token: t, logprob })) : undefined,
      })) : undefined,
    }));
    return this.result(response, choices);
  }

  async chat(request: ChatRequest): Promise<CompletionResult> {
    const body = {
      model: this.model, messages: request.messages, ...samplingBody(request),
      ...(request.logprobs !== undefined ? { logprobs: true, top_logprobs: request.logprobs } : {}),
    };
    const response = parseResponse(chatSchema, await this.send('chat/completions', (options) =>
      this.api.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming, options)),
    `${this.baseURL}/chat/completions`);
    const choices = [...response.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((c): Generation => ({
      text: c.message.content ?? '',
      finishReason: c.finish_reason ?? 'stop',
      logprobs: c.logprobs?.content?.map((t) => ({ token: t.token, logprob: t.logprob, top: t.top_logprobs })),
    }));
    return this.result(response, choices);
  }

  private result(response: { model?: string; usage?: z.infer<typeof usageSchema> | null }, choices: Generation[]) {
    return {
      model: response.model ?? this.model,
      choices,
      usage: { promptTokens: response.usage?.prompt_tokens ?? 0, completionTokens: response.usage?.completion_tokens ?? 0 },
    };
  }

  /** One HTTP call; every way it can fail becomes an LLMError naming the endpoint (never the key). */
  private async send(endpoint: string, call: (options: { signal: AbortSignal }) => Promise<unknown>): Promise<unknown> {
    const where = `${this.baseURL}/${endpoint}`;
    // Our own timer rather than the package's timeout: an abort we started is told apart from a refused connection
    // whatever the runtime's abort error looks like.
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), this.timeoutMs);
    try {
      return await call({ signal: timer.signal });
    } catch (error) {
      if (timer.signal.aborted || error instanceof APIConnectionTimeoutError) {
        throw new LLMError(`${where}: no answer within ${this.timeoutMs} ms`, 'timeout');
      }
      if (error instanceof APIConnectionError) throw new LLMError(`${where}: cannot connect (${rootCause(error)})`, 'connection');
      if (error instanceof APIError && error.status !== undefined) {
        const retryAfterMs = parseRetryAfter(error.headers?.get('retry-after'));
        // a server may quote the key back (OpenAI's 401: "Incorrect API key provided: sk-...")
        throw new LLMError(`${where}: HTTP ${error.status} ${redactSecrets(error.message.replace(/^\d+\s*/, ''))}`,
          kindOfStatus(error.status), { status: error.status, retryAfterMs });
      }
      // The body was cut or was not JSON.
      throw new LLMError(`${where}: unreadable response (${redactSecrets((error as Error).message)})`, 'bad-response');
    } finally {
      clearTimeout(timeout);
    }
  }
}

/** Options of {@link createOpenAIClient}: the endpoint plus the call layer's cache, concurrency and retries. */
export interface OpenAIClientConfig extends OpenAIClientOptions, CallLayerOptions {
  prices?: PriceTable;
}

/**
 * An OpenAI-compatible client behind the call layer (disk cache, concurrency limit, retries, accounting).
 * Base URL and key default to `OPENAI_BASE_URL` and `OPENAI_API_KEY`.
 *
 * @example
 * const teacher = createOpenAIClient({ model: 'gpt-4o-mini', cacheDir: 'checkpoints/llm-cache', concurrency: 4 });
 * const { choices } = await teacher.complete({ prompt: 'Q: 2+2?\nA:', maxTokens: 8, temperature: 0 });
 * console.log(choices[0].text, teacher.usage);
 */
export function createOpenAIClient(config: OpenAIClientConfig): ReliableLLMClient {
  return new ReliableLLMClient(new OpenAICompatibleClient(config), config);
}

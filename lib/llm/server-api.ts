/**
 * The OpenAI request bodies the server accepts and the responses it builds, as JSON or as a stream of chunks:
 * `/v1/completions` (text or token-id prompts, echo, logprobs with top alternatives) and `/v1/chat/completions`
 * (content as text or text parts, every role, null content).
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { EventStream, HttpError, sendJson } from './server-http';
import type { ChatMessage, CompletionResult, Generation, LLMClient, PromptTokenLogprob, SamplingRequest } from './types';

/** What one request may ask for; each refusal names its limit. */
export interface RequestLimits {
  /** Most sequences (prompts x n) one request may ask for (default 256). */
  maxSequences: number;
  /** Most stop strings per request (default 16). */
  maxStops: number;
  /** Longest stop string, in characters (default 256). */
  maxStopLength: number;
}

/** A backing client that knows its context window and tokenizer (the local checkpoint client does). */
export interface ContextAwareClient extends LLMClient {
  readonly contextLength: number;
  promptIds(prompt: string | number[]): number[];
  chatPrompt(messages: readonly ChatMessage[]): string;
}

export function isContextAware(client: LLMClient): client is ContextAwareClient {
  const candidate = client as Partial<ContextAwareClient>;
  return typeof candidate.contextLength === 'number' && typeof candidate.promptIds === 'function' && typeof candidate.chatPrompt === 'function';
}

/** Token and request counts the server keeps. */
export interface ServerStats {
  /** Completion and chat requests answered (successfully or not); /v1/models and /health are not counted. */
  requests: number;
  completions: number;
  chats: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
}

export interface ApiContext {
  client: LLMClient;
  model: string;
  stats: ServerStats;
  limits: RequestLimits;
}

const sampling = {
  model: z.string().optional(),
  max_tokens: z.number().int().min(0).nullable().optional(),
  /** The newer name of max_tokens in chat requests. */
  max_completion_tokens: z.number().int().min(0).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
};

const tokenIds = z.array(z.number().int().min(0)).min(1);

const completionBody = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
  echo: z.boolean().nullable().optional(),
  logprobs: z.number().int().min(0).max(20).nullable().optional(),
});

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const messageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPart), z.null()], {
    error: 'content must be a string, null, or a list of text parts ({"type": "text", "text": ...}); other part types are not supported',
  }).optional(),
});

const chatBody = z.object({
  ...sampling,
  messages: z.array(messageSchema).min(1),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
});

type Sampling = z.infer<z.ZodObject<typeof sampling>>;

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue.path.join('.');
  throw new HttpError(400, `${param || 'body'}: ${issue.message}`, { param: param || undefined });
}

/** The request's stop strings, within the limits. */
function stopList(stop: Sampling['stop'], limits: RequestLimits): string[] | undefined {
  const list = typeof stop === 'string' ? [stop] : stop ?? undefined;
  if (!list) return undefined;
  if (list.length > limits.maxStops) {
    throw new HttpError(400, `stop: ${list.length} stop strings; this server takes at most ${limits.maxStops} (limit maxStops)`, { param: 'stop' });
  }
  const long = list.findIndex((s) => s.length > limits.maxStopLength);
  if (long >= 0) {
    throw new HttpError(400, `stop.${long}: ${list[long].length} characters; this server takes at most ${limits.maxStopLength} (limit maxStopLength)`, { param: 'stop' });
  }
  return list;
}

function checkSequences(prompts: number, n: number, limits: RequestLimits): void {
  if (prompts * n > limits.maxSequences) {
    throw new HttpError(400, `${prompts} prompt(s) x n=${n} = ${prompts * n} sequences; this server takes at most ${limits.maxSequences} per request (limit maxSequences)`, { param: 'n' });
  }
}

/**
 * max_tokens checked against the context, as vLLM does: a prompt longer than the context, or prompt + max_tokens
 * past it, is a 400 naming both numbers. Unset, it is the context left (chat) or 16 capped by what is left
 * (completions, OpenAI's default).
 */
function maxTokensFor(client: LLMClient, promptTokens: number | undefined, asked: number | undefined, fallback: 'context' | number): number | undefined {
  if (!isContextAware(client) || promptTokens === undefined) return asked ?? (fallback === 'context' ? undefined : fallback);
  const context = client.contextLength;
  if (promptTokens > context) {
    throw new HttpError(400, `This model's maximum context length is ${context} tokens. However, your prompt is ${promptTokens} tokens. Please reduce the length of the prompt.`, { param: 'prompt', code: 'context_length_exceeded' });
  }
  const left = context - promptTokens;
  if (asked === undefined) return fallback === 'context' ? left : Math.min(fallback, left);
  if (asked > left) {
    throw new HttpError(400, `This model's maximum context length is ${context} tokens. However, you requested ${promptTokens + asked} tokens (${promptTokens} in the prompt, ${asked} for the completion). Please reduce the prompt or max_tokens.`, { param: 'max_tokens', code: 'context_length_exceeded' });
  }
  return asked;
}

function samplingOf(body: Sampling, limits: RequestLimits, maxTokens: number | undefined, logprobs: number | undefined): SamplingRequest {
  return {
    maxTokens,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? undefined,
    n: body.n ?? 1,
    stop: stopList(body.stop, limits),
    seed: body.seed ?? undefined,
    logprobs,
  };
}

let nextId = 0;
const envelope = (object: string, model: string) =>
  ({ id: `${object.startsWith('chat') ? 'chatcmpl' : 'cmpl'}-${Date.now().toString(36)}${(++nextId).toString(36)}`, object, created: Math.floor(Date.now() / 1000), model });

function usageOf(results: CompletionResult[], stats: ServerStats) {
  const prompt = results.reduce((s, r) => s + r.usage.promptTokens, 0);
  const completion = results.reduce((s, r) => s + r.usage.completionTokens, 0);
  stats.promptTokens += prompt;
  stats.completionTokens += completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Completion logprobs in the legacy format: echoed prompt tokens (first without a value) then generated ones. */
function completionLogprobs(g: Generation, echoed: PromptTokenLogprob[]) {
  const entries: PromptTokenLogprob[] = [...echoed, ...(g.logprobs ?? [])];
  let offset = 0;
  return {
    tokens: entries.map((t) => t.token),
    token_logprobs: entries.map((t) => t.logprob),
    top_logprobs: entries.map((t) => (t.logprob === null ? null : Object.fromEntries((t.top ?? []).map((a) => [a.token, a.logprob])))),
    text_offset: entries.map((t) => (offset += t.token.length) - t.token.length),
  };
}

/** Answer one /v1/completions body; a list of prompts gives n choices per prompt, in order. */
export async function completions(context: ApiContext, body: unknown, response: ServerResponse): Promise<void> {
  const { client, model, stats, limits } = context;
  const request = parseBody(completionBody, body);
  const prompts: (string | number[])[] = typeof request.prompt === 'string' ? [request.prompt]
    : typeof request.prompt[0] === 'number' ? [request.prompt as number[]] : request.prompt as (string[] | number[][]);
  checkSequences(prompts.length, request.n ?? 1, limits);
  const echo = request.echo ?? false;
  const aware = isContextAware(client);
  if (!aware && (echo || prompts.some((p) => typeof p !== 'string'))) {
    throw new HttpError(400, 'echo and token-id prompts need a model served from a checkpoint', { param: echo ? 'echo' : 'prompt' });
  }
  const logprobs = request.logprobs ?? undefined;
  const head = envelope('text_completion', model);
  const withUsage = request.stream_options?.include_usage ?? false;
  const extra = withUsage ? { usage: null } : {};
  const n = request.n ?? 1;
  // Text is streamed as it is decoded; with echo or logprobs each choice is sent whole at the end.
  const live = request.stream && !echo && logprobs === undefined ? new LiveText(response) : undefined;
  const textChunk = (index: number, text: string) => ({ ...head, choices: [{ index, text, logprobs: null, finish_reason: null }], ...extra });
  const sampling = prompts.map((prompt) => {
    const promptTokens = aware ? client.promptIds(prompt).length : undefined;
    return samplingOf(request, limits, maxTokensFor(client, promptTokens, request.max_tokens ?? undefined, 16), logprobs);
  });
  const results = await Promise.all(prompts.map((prompt, p) => client.complete({
    ...sampling[p], prompt, echo,
    ...(live ? { onText: (k: number, delta: string) => live.send(p * n + k, delta, textChunk) } : {}),
  })));
  const choices = results.flatMap((r) => r.choices.map((g) => ({ g, echoed: r.echo }))).map(({ g, echoed }, index) => {
    const prefix = echoed?.text ?? '';
    return {
      index,
      text: prefix + g.text,
      finish_reason: g.finishReason,
      logprobs: logprobs === undefined ? null : completionLogprobs(g, echoed?.tokens ?? []),
    };
  });
  const usage = usageOf(results, stats);
  if (!request.stream) return sendJson(response, 200, { ...head, choices, usage });
  const stream = live?.stream ?? new EventStream(response);
  for (const choice of choices) {
    const rest = live ? live.rest(choice.index, choice.text) : choice.text;
    if (rest) stream.send({ ...head, choices: [{ index: choice.index, text: rest, logprobs: choice.logprobs, finish_reason: null }], ...extra });
    stream.send({ ...head, choices: [{ index: choice.index, text: '', logprobs: null, finish_reason: choice.finish_reason }], ...extra });
  }
  if (withUsage) stream.send({ ...head, choices: [], usage });
  stream.done();
}

/**
 * Text streamed while it is generated: the event stream opens at the first text (so a request refused before any
 * is generated still gets its 4xx), and what each choice was sent is kept, so the end sends only the rest.
 */
class LiveText {
  stream?: EventStream;
  private readonly sent = new Map<number, string>();

  constructor(private readonly response: ServerResponse) {}

  open(): EventStream {
    return (this.stream ??= new EventStream(this.response));
  }

  /** Send choice `index`'s new text as the chunk `chunkOf` builds. */
  send(index: number, delta: string, chunkOf: (index: number, text: string) => unknown): void {
    this.open().send(chunkOf(index, delta));
    this.sent.set(index, (this.sent.get(index) ?? '') + delta);
  }

  /** What of choice `index`'s final text was not sent yet. */
  rest(index: number, text: string): string {
    const sent = this.sent.get(index) ?? '';
    if (!text.startsWith(sent)) throw new Error(`streamed text of choice ${index} is not a prefix of its final text`);
    return text.slice(sent.length);
  }
}

/** A message's content as text: a string, its text parts joined, or empty for null (an assistant's tool call). */
function contentText(content: z.infer<typeof messageSchema>['content']): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

export async function chat(context: ApiContext, body: unknown, response: ServerResponse): Promise<void> {
  const { client, model, stats, limits } = context;
  const request = parseBody(chatBody, body);
  checkSequences(1, request.n ?? 1, limits);
  const messages: ChatMessage[] = request.messages.map((m) => ({ role: m.role, content: contentText(m.content) }));
  const top = request.logprobs ? request.top_logprobs ?? 0 : undefined;
  const promptTokens = isContextAware(client) ? client.promptIds(client.chatPrompt(messages)).length : undefined;
  const maxTokens = maxTokensFor(client, promptTokens, request.max_completion_tokens ?? request.max_tokens ?? undefined, 'context');
  const head = envelope(request.stream ? 'chat.completion.chunk' : 'chat.completion', model);
  const withUsage = request.stream_options?.include_usage ?? false;
  const extra = withUsage ? { usage: null } : {};
  const n = request.n ?? 1;
  // Text is streamed as it is decoded (each choice opened by its role delta); with logprobs it is sent whole at the end.
  const live = request.stream && top === undefined ? new LiveText(response) : undefined;
  const roleChunk = (index: number) => ({ ...head, choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...extra });
  const contentChunk = (index: number, content: string) => ({ ...head, choices: [{ index, delta: { content }, logprobs: null, finish_reason: null }], ...extra });
  const onText = live && ((index: number, delta: string) => {
    if (!live.stream) for (let k = 0; k < n; k++) live.open().send(roleChunk(k));
    live.send(index, delta, contentChunk);
  });
  const result = await client.chat({ ...samplingOf(request, limits, maxTokens, top), messages, ...(onText ? { onText } : {}) });
  const logprobsOf = (g: Generation) => (g.logprobs
    ? { content: g.logprobs.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)], top_logprobs: (t.top ?? []).map((a) => ({ ...a, bytes: [...Buffer.from(a.token)] })) })) }
    : null);
  const usage = usageOf([result], stats);
  if (!request.stream) {
    const choices = result.choices.map((g, index) => ({
      index, message: { role: 'assistant', content: g.text }, finish_reason: g.finishReason, logprobs: logprobsOf(g),
    }));
    return sendJson(response, 200, { ...head, choices, usage });
  }
  const opened = live?.stream !== undefined;
  const stream = live?.stream ?? new EventStream(response);
  result.choices.forEach((g, index) => {
    if (!opened) stream.send(roleChunk(index));
    const rest = live ? live.rest(index, g.text) : g.text;
    if (rest || !live) stream.send({ ...head, choices: [{ index, delta: { content: rest }, logprobs: logprobsOf(g), finish_reason: null }], ...extra });
    stream.send({ ...head, choices: [{ index, delta: {}, logprobs: null, finish_reason: g.finishReason }], ...extra });
  });
  if (withUsage) stream.send({ ...head, choices: [], usage });
  stream.done();
}

import * as tf from '@tensorflow/tfjs';
import { logger } from '../log/logger';
import { generate, loadCheckpoint, type CausalLM } from '../model';
import type { PartialText } from '../model/sampling';
import { T5Model } from '../model/t5';
import { t5Generate } from '../model/t5-generate';
import { importT5Checkpoint, isT5Folder } from '../model/t5-hf';
import type { Tokenizer } from '../tokenizer/types';
import { RequestBatcher } from './batcher';
import { canonicalJson } from './cache';
import { chatPromptFor } from './chat-template';
import { LLMError } from './errors';
import type {
  ChatMessage, ChatRequest, CompletionRequest, CompletionResult, Generation, LLMClient, PromptTokenLogprob, SamplingRequest,
  TextListener,
} from './types';

/** Batching settings of {@link LocalLLMClient}. */
export interface LocalClientOptions {
  /** Model name reported in results (default `local`). */
  name?: string;
  /** How long to gather concurrent requests into one `generate` call (default 5 ms). */
  batchWindowMs?: number;
  /** Most sequences (prompts x n) in one `generate` call (default 32). */
  maxBatchSize?: number;
  /**
   * Prepend the BOS token to every text prompt. Default: the tokenizer's `addsBos` (true for this library's
   * tokenizers; a Hugging Face tokenizer's `add_bos_token`: Llama true, Qwen2 false), as training encodes prompts.
   * Token-id prompts are used as given.
   */
  addBos?: boolean;
  /**
   * A prompt longer than the context: `error` (default) refuses it; `keep-end` feeds its last tokens (BOS kept),
   * counted in `stats.cutPrompts` and logged once, for a small in-process judge that reads long prompts.
   */
  longPrompts?: 'error' | 'keep-end';
}

/** Settings shared by every sequence of one batched `generate` call. */
interface DecodeSettings {
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  stop: string[];
  seed?: number;
  /** undefined: no log-probabilities; else this many alternatives per token. */
  logprobs?: number;
}

interface Job {
  ids: number[];
  n: number;
  settings: DecodeSettings;
  onText?: TextListener;
}

interface JobResult {
  choices: Generation[];
  completionTokens: number;
}

/** Lets the event loop run (timers, sockets) before the next decoding step. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The part of a running row's text that is safe to stream: without a trailing incomplete character (decoded as
 * U+FFFD until its last byte arrives) and without a trailing start of a stop string (it may yet be cut).
 */
export function streamableText(text: string, stops: readonly string[]): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === '\uFFFD') end--;
  let held = 0;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, end); k > held; k--) {
      if (text.endsWith(stop.slice(0, k), end)) {
        held = k;
        break;
      }
    }
  }
  return text.slice(0, end - held);
}

/** A short quote of a prompt for error messages. */
function quote(prompt: string | number[]): string {
  if (typeof prompt !== 'string') return `a token-id prompt`;
  return JSON.stringify(prompt.length > 40 ? `${prompt.slice(0, 40)}...` : prompt);
}

/**
 * A `generate` step callback that sends each job's listener the new text of each of its rows: all of a finished
 * row's remaining text, and of a running row what {@link streamableText} allows.
 */
function streamTo(jobs: readonly Job[], stops: readonly string[]): (rows: readonly PartialText[]) => void {
  const owners = jobs.flatMap((job) => Array.from({ length: job.n }, (_, choice) => ({ job, choice })));
  const sent = owners.map(() => '');
  return (rows) => rows.forEach((row, r) => {
    const { job, choice } = owners[r];
    if (!job.onText) return;
    const safe = row.finished ? row.text : streamableText(row.text, stops);
    // A tokenizer whose decoding of more tokens rewrites earlier text cannot stream that row: its text comes at the end.
    if (safe.length <= sent[r].length || !safe.startsWith(sent[r])) return;
    job.onText(choice, safe.slice(sent[r].length));
    sent[r] = safe;
  });
}

/**
 * An {@link LLMClient} over a causal LM in this process. Concurrent requests with the same sampling settings that
 * arrive within a short window are decoded together in one batched `generate` call (one row per sample); batches
 * run one at a time and yield to the event loop between decoding steps; a request's `onText` receives each choice's new
 * text after every step. Chat requests are rendered with the
 * tokenizer's chat template, or the plain format for models without one (see {@link chatPromptFor}). With a `seed`, results are reproducible for the same batch. A prompt longer than the model's
 * context is refused (an {@link LLMError} of kind `request`, status 400), never cut.
 */
export class LocalLLMClient<M extends CausalLM | T5Model = CausalLM> implements LLMClient {
  readonly model: string;
  /** `generate` calls made and sequences decoded in them (batches < requests when batching works). */
  readonly stats = { batches: 0, sequences: 0, cutPrompts: 0 };
  /** One batcher for every setting: its open batches are keyed by the settings and dropped when they run. */
  private readonly batcher: RequestBatcher<Job, JobResult>;

  /** `lm`: a causal LM, or a T5 model (the prompt is its source; the completion is what its decoder writes). */
  constructor(readonly lm: M, readonly tokenizer: Tokenizer, private readonly options: LocalClientOptions = {}) {
    this.model = options.name ?? 'local';
    this.batcher = new RequestBatcher<Job, JobResult>((jobs) => this.decode(jobs, jobs[0].settings), {
      windowMs: options.batchWindowMs ?? 5,
      maxSize: options.maxBatchSize ?? 32,
      size: (job) => job.n,
    });
  }

  /** Load a checkpoint folder written by `saveCheckpoint`; the model is named after the folder. */
  static async fromCheckpoint(dir: string, options: LocalClientOptions = {}): Promise<LocalLLMClient> {
    const { model, tokenizer } = await loadCheckpoint(dir);
    return new LocalLLMClient(model, tokenizer, { name: dir.replace(/\/+$/, '').split('/').pop(), ...options });
  }

  /**
   * Load any model folder a client can serve: a Hugging Face T5 folder as a {@link T5Model}, anything else as
   * {@link LocalLLMClient.fromCheckpoint} does. The folder must hold its tokenizer.
   */
  static async fromFolder(dir: string, options: LocalClientOptions = {}): Promise<LocalLLMClient<CausalLM | T5Model>> {
    if (!isT5Folder(dir)) return LocalLLMClient.fromCheckpoint(dir, options);
    const { model, tokenizer } = await importT5Checkpoint(dir);
    if (!tokenizer) {
      model.dispose();
      throw new Error(`${dir}/tokenizer.json: file is missing (a Hugging Face folder needs its tokenizer)`);
    }
    return new LocalLLMClient<CausalLM | T5Model>(model, tokenizer, { name: dir.replace(/\/+$/, '').split('/').pop(), ...options });
  }

  /** Batches gathering requests now: bounded by the settings in use at this moment, none when idle. */
  get openBatches(): number {
    return this.batcher.openBatches;
  }

  /** Most tokens the model sees at once: prompt plus completion (its maxSeqLen; for T5, each of source and completion). */
  get contextLength(): number {
    return this.lm.config.maxSeqLen;
  }

  /**
   * The token ids the model is fed for a prompt: text encoded (with BOS when configured; a T5 source ends with EOS,
   * as T5's tokenizer writes it), ids checked and kept.
   */
  promptIds(prompt: string | number[]): number[] {
    if (typeof prompt === 'string') {
      if (this.lm instanceof T5Model) return this.tokenizer.encode(prompt, { addEos: true });
      return this.tokenizer.encode(prompt, { addBos: this.options.addBos ?? this.tokenizer.addsBos });
    }
    const bad = prompt.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= this.tokenizer.vocabSize);
    if (bad >= 0) {
      throw new LLMError(`prompt token ${bad} is ${prompt[bad]}, not a token id of this model (0 to ${this.tokenizer.vocabSize - 1})`, 'request', { status: 400 });
    }
    return prompt;
  }

  /** The prompt a chat request is rendered to. */
  chatPrompt(messages: readonly ChatMessage[]): string {
    return chatPromptFor(messages, this.tokenizer).prompt;
  }

  complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.run('completion', request.prompt, request, request.stop ?? [], request.echo ?? false);
  }

  chat(request: ChatRequest): Promise<CompletionResult> {
    const { prompt, stops } = chatPromptFor(request.messages, this.tokenizer);
    return this.run('chat', prompt, request, [...stops, ...(request.stop ?? [])], false);
  }

  private async run(kind: string, prompt: string | number[], request: SamplingRequest, stop: string[], echo: boolean): Promise<CompletionResult> {
    let ids = this.promptIds(prompt);
    const maxTokens = request.maxTokens ?? 16;
    // Generating needs one free position after the prompt; scoring the prompt alone (max tokens 0) does not. A T5
    // source and its completion each have the whole context.
    const room = maxTokens > 0 && !(this.lm instanceof T5Model) ? this.contextLength - 1 : this.contextLength;
    if (ids.length > room && this.options.longPrompts === 'keep-end') {
      if (this.stats.cutPrompts++ === 0) {
        logger.warn(`${this.model}: a ${kind} prompt of ${ids.length} tokens is over the context of ${this.contextLength}; `
          + 'long prompts keep their last tokens (counted in stats.cutPrompts)');
      }
      const bos = ids[0] === this.tokenizer.bosId && typeof prompt === 'string' ? [ids[0]] : [];
      ids = [...bos, ...ids.slice(ids.length - (room - bos.length))];
    }
    if (ids.length > room) {
      throw new LLMError(
        `${kind} request with prompt ${quote(prompt)}: the prompt is ${ids.length} tokens but ${this.model}'s context is ${this.contextLength} tokens`
        + (maxTokens > 0 ? ` (at most ${room} prompt tokens leave room for one new token)` : ''),
        'request', { status: 400 },
      );
    }
    const n = request.n ?? 1;
    const promptText = typeof prompt === 'string' ? prompt : this.tokenizer.decode(ids, { skipSpecial: true });
    const echoed = echo ? { text: promptText, tokens: this.scorePrompt(ids, request.logprobs) } : undefined;
    const usage = (completionTokens: number) => ({ promptTokens: ids.length, completionTokens });
    if (maxTokens === 0) {
      const empty: Generation = { text: '', finishReason: 'length', ...(request.logprobs !== undefined ? { logprobs: [] } : {}) };
      return { model: this.model, choices: Array.from({ length: n }, () => ({ ...empty })), usage: usage(0), ...(echoed ? { echo: echoed } : {}) };
    }
    const settings: DecodeSettings = {
      maxNewTokens: maxTokens,
      temperature: request.temperature ?? 1,
      topP: request.topP,
      stop,
      seed: request.seed,
      logprobs: request.logprobs,
    };
    const { choices, completionTokens } = await this.batcher.submit(canonicalJson(settings), { ids, n, settings, onText: request.onText });
    return { model: this.model, choices, usage: usage(completionTokens), ...(echoed ? { echo: echoed } : {}) };
  }

  /**
   * Each prompt token's log-probability given the tokens before it (one full forward), with the `top` most likely
   * alternatives at each position; the first token has none. Without `top` (logprobs not asked) only the tokens.
   */
  private scorePrompt(ids: number[], top: number | undefined): PromptTokenLogprob[] {
    const tokens = ids.map((id) => this.tokenizer.decode([id]));
    if (top === undefined || ids.length < 2) return tokens.map((token) => ({ token, logprob: null }));
    const lm: CausalLM | T5Model = this.lm;
    if (lm instanceof T5Model) {
      throw new LLMError(`${this.model} is an encoder-decoder model: its prompt (the encoder's input) has no log-probabilities to echo`, 'request', { status: 400 });
    }
    const vocab = this.tokenizer.vocabSize;
    const k = Math.max(1, top);
    const [picked, topValues, topIds] = tf.tidy(() => {
      const { logits } = lm.forward(tf.tensor2d([ids], [1, ids.length], 'int32')); // [1, T, V]
      // log_softmax over the tokenizer's ids only (padded embedding rows are never sampled), at positions 0..T-2
      const rows = tf.slice(tf.reshape(logits, [ids.length, -1]), [0, 0], [ids.length - 1, vocab]); // [T-1, V]
      const logProbs = tf.logSoftmax(rows);
      const next = tf.oneHot(tf.tensor1d(ids.slice(1), 'int32'), vocab); // [T-1, V]
      const best = tf.topk(logProbs, Math.min(k, vocab));
      return [tf.sum(tf.mul(logProbs, next), 1), best.values, best.indices];
    });
    const [pickedValues, bestValues, bestIds] = [picked.dataSync(), topValues.dataSync(), topIds.dataSync()];
    tf.dispose([picked, topValues, topIds]);
    const width = Math.min(k, vocab);
    return tokens.map((token, t) => {
      if (t === 0) return { token, logprob: null };
      const row = t - 1;
      const alternatives = top === 0 ? [] : Array.from({ length: width }, (_, j) => ({
        token: this.tokenizer.decode([bestIds[row * width + j]]), logprob: bestValues[row * width + j],
      }));
      return { token, logprob: pickedValues[row], top: alternatives };
    });
  }

  /** One batched generate over every sample of every job; returns each job's samples. */
  private async decode(jobs: Job[], settings: DecodeSettings): Promise<JobResult[]> {
    const rows = jobs.flatMap((job) => Array.from({ length: job.n }, () => job.ids));
    this.stats.batches++;
    this.stats.sequences += rows.length;
    const withLogprobs = settings.logprobs !== undefined;
    const lm: CausalLM | T5Model = this.lm;
    const options = {
      maxNewTokens: settings.maxNewTokens,
      temperature: settings.temperature,
      topP: settings.topP,
      stop: settings.stop,
      seed: settings.seed,
      greedy: settings.temperature === 0,
      returnLogprobs: withLogprobs,
      topLogprobs: settings.logprobs,
      betweenSteps: yieldToEventLoop,
      onStep: jobs.some((job) => job.onText) ? streamTo(jobs, settings.stop) : undefined,
    };
    const outputs = lm instanceof T5Model ? await t5Generate(lm, this.tokenizer, rows, options) : await generate(lm, this.tokenizer, rows, options);
    const generations = outputs.map((out): Generation => ({
      text: out.text,
      finishReason: out.finishReason === 'length' ? 'length' : 'stop',
      logprobs: withLogprobs && out.logprobs
        ? out.tokenIds.map((id, i) => ({
          token: this.tokenizer.decode([id]),
          logprob: out.logprobs![i],
          top: out.topLogprobs?.[i].map((alt) => ({ token: this.tokenizer.decode([alt.id]), logprob: alt.logprob })) ?? [],
        }))
        : undefined,
    }));
    let next = 0;
    return jobs.map((job) => {
      const sequences = outputs.slice(next, next + job.n);
      const choices = generations.slice(next, (next += job.n));
      return { choices, completionTokens: sequences.reduce((s, out) => s + out.tokenIds.length, 0) };
    });
  }
}

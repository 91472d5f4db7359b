import { generate, loadCheckpoint, type CausalLM } from '../model';
import type { Tokenizer } from '../tokenizer/types';
import { RequestBatcher } from './batcher';
import { canonicalJson } from './cache';
import { chatPrompt } from './chat-template';
import type { ChatRequest, CompletionRequest, CompletionResult, Generation, LLMClient, SamplingRequest } from './types';

/** Batching settings of {@link LocalLLMClient}. */
export interface LocalClientOptions {
  /** Model name reported in results (default `local`). */
  name?: string;
  /** How long to gather concurrent requests into one `generate` call (default 5 ms). */
  batchWindowMs?: number;
  /** Most sequences (prompts x n) in one `generate` call (default 32). */
  maxBatchSize?: number;
  /**
   * Prepend the BOS token to every prompt. Default: true for the project's own char/byte tokenizers (their models
   * are trained with BOS, see lib/train/formats.ts), false for Hugging Face tokenizers (whose models mostly are not).
   */
  addBos?: boolean;
}

interface Job {
  prompt: string;
  n: number;
}

interface JobResult {
  choices: Generation[];
  completionTokens: number;
}

/**
 * An {@link LLMClient} over a causal LM in this process. Concurrent requests with the same sampling settings that
 * arrive within a short window are decoded together in one batched `generate` call (one row per sample).
 * Chat requests are rendered with the tokenizer's chat template, or the plain format for models without one (see
 * {@link chatPrompt}). With a `seed`, results are reproducible for the same batch.
 * Per-token log-probabilities are those of the sampled tokens (no alternatives).
 */
export class LocalLLMClient implements LLMClient {
  readonly model: string;
  /** `generate` calls made and sequences decoded in them (batches < requests when batching works). */
  readonly stats = { batches: 0, sequences: 0 };
  private readonly batchers = new Map<string, RequestBatcher<Job, JobResult>>();

  constructor(readonly lm: CausalLM, readonly tokenizer: Tokenizer, private readonly options: LocalClientOptions = {}) {
    this.model = options.name ?? 'local';
  }

  /** Load a checkpoint folder written by `saveCheckpoint`; the model is named after the folder. */
  static async fromCheckpoint(dir: string, options: LocalClientOptions = {}): Promise<LocalLLMClient> {
    const { model, tokenizer } = await loadCheckpoint(dir);
    return new LocalLLMClient(model, tokenizer, { name: dir.replace(/\/+$/, '').split('/').pop(), ...options });
  }

  complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.run(request.prompt, request, request.stop ?? []);
  }

  chat(request: ChatRequest): Promise<CompletionResult> {
    const { prompt, stops } = chatPrompt(request.messages, this.tokenizer);
    return this.run(prompt, request, [...stops, ...(request.stop ?? [])]);
  }

  private async run(prompt: string, request: SamplingRequest, stop: string[]): Promise<CompletionResult> {
    const settings = {
      maxNewTokens: request.maxTokens ?? 16,
      temperature: request.temperature ?? 1,
      topP: request.topP,
      stop,
      seed: request.seed,
      logprobs: request.logprobs !== undefined,
    };
    const key = canonicalJson(settings);
    let batcher = this.batchers.get(key);
    if (!batcher) {
      batcher = new RequestBatcher<Job, JobResult>((jobs) => this.decode(jobs, settings), {
        windowMs: this.options.batchWindowMs ?? 5,
        maxSize: this.options.maxBatchSize ?? 32,
        size: (job) => job.n,
      });
      this.batchers.set(key, batcher);
    }
    const { choices, completionTokens } = await batcher.submit(key, { prompt, n: request.n ?? 1 });
    return { model: this.model, choices, usage: { promptTokens: this.tokenizer.encode(prompt).length, completionTokens } };
  }

  /** One batched generate over every sample of every job; returns each job's samples. */
  private async decode(
    jobs: Job[],
    settings: { maxNewTokens: number; temperature: number; topP?: number; stop: string[]; seed?: number; logprobs: boolean },
  ): Promise<JobResult[]> {
    const rows = jobs.flatMap((job) => Array.from({ length: job.n }, () => job.prompt));
    this.stats.batches++;
    this.stats.sequences += rows.length;
    const outputs = await generate(this.lm, this.tokenizer, rows, {
      maxNewTokens: settings.maxNewTokens,
      temperature: settings.temperature,
      topP: settings.topP,
      stop: settings.stop,
      seed: settings.seed,
      greedy: settings.temperature === 0,
      returnLogprobs: settings.logprobs,
      addBos: this.options.addBos ?? this.tokenizer.kind !== 'hf',
    });
    const generations = outputs.map((out): Generation => ({
      text: out.text,
      finishReason: out.finishReason === 'length' ? 'length' : 'stop',
      logprobs: settings.logprobs && out.logprobs
        ? out.tokenIds.map((id, i) => ({ token: this.tokenizer.decode([id]), logprob: out.logprobs![i] }))
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

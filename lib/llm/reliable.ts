import { logger } from '../log/logger';
import { UsageMeter, type PriceTable, type UsageReport } from './accounting';
import { DiskCache, type CacheKeySource } from './cache';
import { ConcurrencyLimiter } from './limiter';
import { withRetries, type RetryOptions } from './retry';
import type { ChatRequest, CompletionRequest, CompletionResult, LLMClient } from './types';

/** Settings of the call layer every remote call goes through. */
export interface CallLayerOptions {
  /** Folder of the disk cache; no caching when omitted. */
  cacheDir?: string;
  /** Calls in flight at once (default 8). */
  concurrency?: number;
  retry?: RetryOptions;
  /** Prices for the cost estimate. */
  prices?: PriceTable;
}

/**
 * Wraps any {@link LLMClient} in the one layer that makes calls cheap and dependable: answers come from the disk
 * cache when the same request was made before (so a rerun makes zero calls), identical requests in flight share
 * one call, at most `concurrency` calls run at once, transient failures are retried with backoff and jitter
 * (honouring Retry-After), and requests, cache hits, retries, tokens and cost are counted.
 */
export class ReliableLLMClient implements LLMClient {
  private readonly cache?: DiskCache;
  private readonly limiter: ConcurrencyLimiter;
  private readonly meter: UsageMeter;
  private readonly inFlight = new Map<string, Promise<CompletionResult>>();

  constructor(readonly inner: LLMClient, private readonly options: CallLayerOptions = {}) {
    this.cache = options.cacheDir ? new DiskCache(options.cacheDir) : undefined;
    this.limiter = new ConcurrencyLimiter(options.concurrency ?? 8);
    this.meter = new UsageMeter(options.prices);
  }

  get model(): string {
    return this.inner.model;
  }

  /** What this client has done so far. */
  get usage(): UsageReport {
    return this.meter.snapshot();
  }

  complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.call({ kind: 'completion', model: this.model, request }, () => this.inner.complete(request));
  }

  chat(request: ChatRequest): Promise<CompletionResult> {
    return this.call({ kind: 'chat', model: this.model, request }, () => this.inner.chat(request));
  }

  private call(source: CacheKeySource, send: () => Promise<CompletionResult>): Promise<CompletionResult> {
    const key = this.cache?.key(source) ?? '';
    const hit = this.cache?.get(key);
    if (hit) {
      this.meter.cacheHit();
      return Promise.resolve({ ...hit, cached: true });
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const call = this.limiter.run(() => this.sendWithRetries(send)).then((result) => {
      this.cache?.set(key, source, result);
      return result;
    });
    if (this.cache) {
      this.inFlight.set(key, call);
      const forget = () => this.inFlight.delete(key);
      call.then(forget, forget);
    }
    return call;
  }

  private async sendWithRetries(send: () => Promise<CompletionResult>): Promise<CompletionResult> {
    try {
      const result = await withRetries(() => {
        this.meter.request();
        return send();
      }, this.options.retry ?? {}, (error, retry, delayMs) => {
        this.meter.retry(error.kind);
        logger.debug(`${this.model}: ${error.message}; retry ${retry + 1} in ${Math.round(delayMs)} ms`);
      });
      this.meter.tokens(this.model, result.usage.promptTokens, result.usage.completionTokens);
      return result;
    } catch (error) {
      this.meter.failure();
      throw error;
    }
  }
}

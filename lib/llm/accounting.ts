import type { FailureKind } from './errors';

/** US dollars per million tokens, by model name. */
export type PriceTable = Record<string, { prompt: number; completion: number }>;

/** A snapshot of what an LLM client has done. */
export interface UsageReport {
  /** Calls that reached the endpoint (attempts, retries included). */
  requests: number;
  /** Calls answered from the disk cache. */
  cacheHits: number;
  /** Retries, by the cause of the failure retried. */
  retries: Partial<Record<FailureKind, number>>;
  /** Calls that failed for good. */
  failures: number;
  promptTokens: number;
  completionTokens: number;
  /** Estimated cost in US dollars from the price table (0 for models not in it). */
  costUsd: number;
}

/** Counts requests, cache hits, retries by cause, tokens and estimated cost. */
export class UsageMeter {
  private readonly report: UsageReport = {
    requests: 0, cacheHits: 0, retries: {}, failures: 0, promptTokens: 0, completionTokens: 0, costUsd: 0,
  };

  constructor(private readonly prices: PriceTable = {}) {}

  request(): void {
    this.report.requests++;
  }

  cacheHit(): void {
    this.report.cacheHits++;
  }

  retry(kind: FailureKind): void {
    this.report.retries[kind] = (this.report.retries[kind] ?? 0) + 1;
  }

  failure(): void {
    this.report.failures++;
  }

  tokens(model: string, promptTokens: number, completionTokens: number): void {
    this.report.promptTokens += promptTokens;
    this.report.completionTokens += completionTokens;
    const price = this.prices[model];
    if (price) this.report.costUsd += (promptTokens * price.prompt + completionTokens * price.completion) / 1e6;
  }

  snapshot(): UsageReport {
    return { ...this.report, retries: { ...this.report.retries } };
  }
}

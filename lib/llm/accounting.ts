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
  private readonly report = emptyUsage();

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

/** The sum of two usage reports (runs of one stage across resumes). */
export function addUsage(a: UsageReport, b: UsageReport): UsageReport {
  const retries = { ...a.retries };
  for (const [kind, n] of Object.entries(b.retries) as [FailureKind, number][]) retries[kind] = (retries[kind] ?? 0) + n;
  return {
    requests: a.requests + b.requests, cacheHits: a.cacheHits + b.cacheHits, retries, failures: a.failures + b.failures,
    promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens,
    costUsd: a.costUsd + b.costUsd,
  };
}

/** What a client did between two snapshots of its usage (`since` taken first). */
export function usageSince(now: UsageReport, since: UsageReport): UsageReport {
  const retries: UsageReport['retries'] = {};
  for (const [kind, n] of Object.entries(now.retries) as [FailureKind, number][]) {
    const added = n - (since.retries[kind] ?? 0);
    if (added) retries[kind] = added;
  }
  return {
    requests: now.requests - since.requests, cacheHits: now.cacheHits - since.cacheHits, retries,
    failures: now.failures - since.failures, promptTokens: now.promptTokens - since.promptTokens,
    completionTokens: now.completionTokens - since.completionTokens, costUsd: now.costUsd - since.costUsd,
  };
}

/** A report with nothing counted. */
export function emptyUsage(): UsageReport {
  return { requests: 0, cacheHits: 0, retries: {}, failures: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
}

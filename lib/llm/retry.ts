import { LLMError } from './errors';

/** When and how often a failed call is tried again. */
export interface RetryOptions {
  /** Tries in all, the first included (default 6). */
  maxAttempts?: number;
  /** Backoff scale: the k-th retry waits uniform(0, min(maxDelayMs, baseDelayMs * 2^k)) (default 500 ms). */
  baseDelayMs?: number;
  /** Ceiling of one backoff wait (default 30 s). */
  maxDelayMs?: number;
  /** Ceiling on a server's Retry-After (default 120 s). */
  maxRetryAfterMs?: number;
  /** Uniform [0, 1) source for the jitter (default Math.random). */
  random?: () => number;
}

const DEFAULTS = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/**
 * A Retry-After header value in milliseconds: either delta-seconds ("2", "0.5") or an HTTP date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before retry number `retry` (0-based): the server's Retry-After when it gave one (capped), else
 * exponential backoff with full jitter, uniform(0, min(cap, base * 2^retry)) ("Exponential Backoff And Jitter",
 * AWS Architecture Blog, 2015), which spreads out clients that failed together.
 */
export function retryDelay(retry: number, error: LLMError, options: RetryOptions = {}): number {
  const o = { ...DEFAULTS, ...options };
  if (error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, o.maxRetryAfterMs);
  const random = options.random ?? Math.random;
  return random() * Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** retry);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Run `attempt` until it succeeds, a non-retryable error occurs, or `maxAttempts` are used up. */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  options: RetryOptions,
  onRetry: (error: LLMError, retry: number, delayMs: number) => void,
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? DEFAULTS.maxAttempts;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof LLMError) || !error.retryable) throw error;
      if (retry + 1 >= maxAttempts) {
        throw new LLMError(`${error.message} (gave up after ${maxAttempts} attempts)`, error.kind, error.options);
      }
      const delayMs = retryDelay(retry, error, options);
      onRetry(error, retry, delayMs);
      await sleep(delayMs);
    }
  }
}

/** Why an LLM call failed; the first five are transient and retried, the last two are not. */
export type FailureKind =
  | 'rate-limit'
  | 'server'
  | 'timeout'
  | 'connection'
  | 'bad-response'
  | 'request'
  | 'config';

const RETRYABLE: ReadonlySet<FailureKind> = new Set(['rate-limit', 'server', 'timeout', 'connection', 'bad-response']);

/** One failed LLM call, classified so the call layer knows whether (and when) to try again. */
export class LLMError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly options: { status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'LLMError';
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }

  get status(): number | undefined {
    return this.options.status;
  }

  /** The wait the server asked for (Retry-After), if any. */
  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }
}

/** HTTP status -> failure kind: 429 rate limit, 408 timeout, 5xx server, any other 4xx a bad request. */
export function kindOfStatus(status: number): FailureKind {
  if (status === 429) return 'rate-limit';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server';
  return 'request';
}

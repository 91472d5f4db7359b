import type { Example } from '../data/types';
import type { LLMClient } from '../llm/types';

/** One item a reward module scores: the question, the student's rationale, and optionally an answer. */
export interface RewardInput {
  example: Example;
  rationale: string;
  prediction?: string;
}

/** What a reward module may use besides its batch: the frozen judge, and a signal that aborts it (timeouts). */
export interface RewardContext {
  judge?: LLMClient;
  signal?: AbortSignal;
}

/** A named, async, batched scorer: one number per input, higher is better. */
export interface RewardModule {
  readonly name: string;
  score(batch: RewardInput[], context: RewardContext): Promise<number[]>;
}

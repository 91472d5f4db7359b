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

/** Why a reward module could not score some samples of a batch. */
export interface RewardFailure {
  module: string;
  message: string;
  /** Indices of the samples it could not score. */
  samples: number[];
}

/** Scores of a batch: the total, each component, and which samples could be scored (a composite reward's result). */
export interface RewardScores {
  total: number[];
  components: Record<string, number[]>;
  /** False for samples a failing module could not score (their total is NaN); they are left out of the update. */
  valid: boolean[];
  failures: RewardFailure[];
}

import { existsSync } from 'node:fs';
import { LocalLLMClient } from '../../llm/local-client';
import type { LLMClient } from '../../llm/types';
import type { CausalLM } from '../../model/causal-lm';
import type { Tokenizer } from '../../tokenizer/types';
import { CompositeReward } from '../../../rewards/composite';
import { loadRewardFiles } from '../../../rewards/registry';
import type { StageContext } from '../runner';
import { endpointClient } from './endpoint';

/** A judge and a way to free what it holds. */
export interface Judge {
  client: LLMClient;
  dispose(): void;
}

/**
 * The frozen judge the config names: a copy of the distilled student (`student-copy`), another local checkpoint,
 * or an OpenAI-compatible endpoint (cached in the run folder). `distilled`, when the caller holds the frozen
 * distilled student already (RL's reference), is that copy: no second one is loaded.
 */
export async function openJudge(context: StageContext, distilled?: { model: CausalLM; tokenizer: Tokenizer }): Promise<Judge> {
  const judge = context.config.judge;
  if (judge.kind === 'llm') return { client: endpointClient(judge.endpoint, context.run.path('llm-cache'), 'judge.endpoint'), dispose() {} };
  if (judge.kind === 'student-copy' && distilled) {
    return { client: new LocalLLMClient(distilled.model, distilled.tokenizer, { name: 'judge (frozen distilled student)' }), dispose() {} };
  }
  const dir = judge.kind === 'student-copy' ? context.outputsOf('distill').best : judge.path;
  if (!existsSync(dir)) throw new Error(judge.kind === 'checkpoint' ? `judge.path: ${dir} does not exist` : `the distilled student ${dir} is missing`);
  const client = await LocalLLMClient.fromCheckpoint(dir, {
    name: judge.kind === 'student-copy' ? 'judge (frozen distilled student)' : undefined,
    longPrompts: 'keep-end', // a small judge reads rationales longer than its context by their end (logged)
  });
  return { client, dispose: () => client.lm.dispose() };
}

/** The composite reward of the config's `rewards` section, with custom reward files loaded first. */
export function buildReward(context: StageContext): CompositeReward {
  const rewards = context.config.rewards;
  loadRewardFiles(rewards.paths);
  return new CompositeReward({
    weights: rewards.weights, expression: rewards.expression, options: rewards.options,
    onError: rewards.onError, timeoutSeconds: rewards.timeoutSeconds,
  });
}

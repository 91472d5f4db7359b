import { existsSync } from 'node:fs';
import { LocalLLMClient } from '../../llm/local-client';
import type { Student } from '../../model/student';
import type { Tokenizer } from '../../tokenizer/types';
import { Judge } from '../../eval/judge';
import { CompositeReward } from '../../reward/composite';
import { loadRewardFiles } from '../../reward/registry';
import '../../../rewards'; // the built-in modules, registered by name: experiments name them
import type { StageContext } from '../runner';
import { QUESTION_END } from '../../train/formats';
import { endpointClient } from './endpoint';

/** The experiment's judge and a way to free what it holds. */
export interface OpenedJudge {
  judge: Judge;
  dispose(): void;
}

/**
 * The frozen judge the config names, asked with its settings (`judge.template`, `judge.maxTokens`): a copy of the
 * distilled student (`student-copy`), another local checkpoint, or an OpenAI-compatible endpoint (cached in the run
 * folder). `distilled`, when the caller holds the frozen distilled student already (RL's reference), is that copy:
 * no second one is loaded.
 */
export async function openJudge(context: StageContext, distilled?: { model: Student; tokenizer: Tokenizer }): Promise<OpenedJudge> {
  const config = context.config.judge;
  const settings = { template: config.template, maxTokens: config.maxTokens };
  if (config.kind === 'llm') {
    return { judge: new Judge(endpointClient(config.endpoint, context.run.path('llm-cache'), 'judge.endpoint'), settings), dispose() {} };
  }
  // a small judge reads rationales longer than its context by their end (logged)
  // a T5 copy of the student reads the reader prompt `question ### rationale -->` as it was trained: the question
  // as its source, the rationale as the start of its output
  const options = {
    name: config.kind === 'student-copy' ? 'judge (frozen distilled student)' : undefined, longPrompts: 'keep-end' as const,
    ...(config.kind === 'student-copy' && config.template === '' ? { decoderPrefixAfter: QUESTION_END } : {}),
  };
  if (config.kind === 'student-copy' && distilled) {
    return { judge: new Judge(new LocalLLMClient(distilled.model, distilled.tokenizer, options), settings), dispose() {} };
  }
  const dir = config.kind === 'student-copy' ? context.outputsOf('distill').best : config.path;
  if (!existsSync(dir)) throw new Error(config.kind === 'checkpoint' ? `judge.path: ${dir} does not exist` : `the distilled student ${dir} is missing`);
  const client = await LocalLLMClient.fromFolder(dir, options);
  return { judge: new Judge(client, settings), dispose: () => client.lm.dispose() };
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

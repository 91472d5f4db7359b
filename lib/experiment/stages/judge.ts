import { existsSync } from 'node:fs';
import { LocalLLMClient } from '../../llm/local-client';
import { Judge } from '../../eval/judge';
import { CompositeReward } from '../../reward/composite';
import { loadRewardFiles } from '../../reward/registry';
import '../../../rewards'; // the built-in modules, registered by name: experiments name them
import type { StageContext } from '../runner';
import { endpointClient } from './endpoint';

/** The experiment's judge and a way to free what it holds. */
export interface OpenedJudge {
  judge: Judge;
  dispose(): void;
}

/**
 * The frozen judge the config names, asked with its settings (`judge.template`, `judge.maxTokens`): a copy of the
 * distilled student (`student-copy`), another local checkpoint, or an OpenAI-compatible endpoint (cached in the run
 * folder).
 */
export async function openJudge(context: StageContext): Promise<OpenedJudge> {
  const { kind, template, maxTokens } = context.config.judge;
  const config = context.config.judge;
  if (config.kind === 'llm') {
    return { judge: new Judge(endpointClient(config.endpoint, context.run.path('llm-cache'), 'judge.endpoint'), { template, maxTokens }), dispose() {} };
  }
  const dir = config.kind === 'student-copy' ? context.outputsOf('distill').best : config.path;
  if (!existsSync(dir)) throw new Error(config.kind === 'checkpoint' ? `judge.path: ${dir} does not exist` : `the distilled student ${dir} is missing`);
  const client = await LocalLLMClient.fromCheckpoint(dir, { name: kind === 'student-copy' ? 'judge (frozen distilled student)' : undefined });
  return { judge: new Judge(client, { template, maxTokens }), dispose: () => client.lm.dispose() };
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

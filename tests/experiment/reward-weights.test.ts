/**
 * No reward weight in a config is silently ignored: for every shipped experiment, `--set rewards.weights.<name>=<x>`
 * for each built-in reward either changes the total reward of a batch or is refused with a message naming the field.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Example } from '../../lib/data/types';
import { ConfigError } from '../../lib/experiment/config';
import { loadExperiment } from '../../lib/experiment/load';
import type { ExperimentConfig } from '../../lib/experiment/schema';
import type { CompletionRequest, LLMClient } from '../../lib/llm/types';
import { BUILTIN_REWARDS, CompositeReward } from '../../rewards';

const dir = resolve(__dirname, '../../experiments');
const experiments = readdirSync(dir).filter((f) => f.endsWith('.ts'));

// A judge that always answers "4": the gold answer of the question below, and a valid 1-5 aspect rating.
const judge: LLMClient = {
  async complete(request: CompletionRequest) {
    return { choices: [{ text: '4', finishReason: 'stop' }], usage: { promptTokens: request.prompt.length, completionTokens: 1 } };
  },
  async chat() {
    throw new Error('not used');
  },
} as unknown as LLMClient;

const example: Example = { id: 'w/1', question: 'Tom has 2 apples and buys 2 more apples. How many apples does Tom have?', answers: ['4'], answerType: 'number' };
const batch = [
  'Tom has 2 apples. He buys 2 more apples. 2 + 2 = 4. So Tom has 4 apples.',
  'Apples.',
  'Tom has 2 apples. Tom has 2 apples. Tom has 2 apples. Tom has 2 apples. 2 + 2 = 5.',
].map((rationale) => ({ example, rationale }));

async function totals(config: ExperimentConfig): Promise<number[]> {
  const { weights, expression, options } = config.rewards;
  return (await new CompositeReward({ weights, expression, options }).scoreAll(batch, { judge })).total;
}

describe.each(experiments)('%s', (file) => {
  const base = loadExperiment(join(dir, file), [], { preflight: false });

  test.each(BUILTIN_REWARDS.map((r) => r.name))('--set rewards.weights.%s changes the total or is refused', async (name) => {
    const weight = (base.rewards.weights[name] ?? 0) + 1.5;
    let changed: ExperimentConfig;
    try {
      changed = loadExperiment(join(dir, file), [`rewards.weights.${name}=${weight}`]);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(`weights.${name}: `);
      expect((error as Error).message).toContain('its weight would be ignored');
      return;
    }
    const before = await totals(base);
    const after = await totals(changed);
    expect(after).not.toEqual(before);
  });
});

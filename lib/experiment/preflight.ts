import { existsSync } from 'node:fs';
import { hasReward, listRewards, loadRewardFiles } from '../../rewards/registry';
import { CompositeReward } from '../../rewards/composite';
import { canonicalDatasetName } from '../data/datasets';
import { dataFileExists } from '../data/files';
import { ConfigError } from './config';
import type { ExperimentConfig } from './schema';

/**
 * Checks that need the file system or the reward registry, made before any work starts: data and checkpoint paths
 * exist, dataset and reward names are known (custom reward files are loaded here, so they fail early too).
 * Throws one {@link ConfigError} listing every problem, each naming its field.
 */
export function preflight(config: ExperimentConfig, source: string): void {
  const problems: string[] = [];
  const mustExist = (field: string, path: string | undefined) => {
    if (path !== undefined && !dataFileExists(path)) problems.push(`${field}: ${path} does not exist`);
  };
  const data = config.data.source;
  if (data.kind === 'file') mustExist('data.source.path', data.path);
  if (data.kind === 'dataset') {
    try {
      canonicalDatasetName(data.name);
      mustExist('data.source.dataDir', data.dataDir);
    } catch (error) {
      problems.push(`data.source.name: ${(error as Error).message}`);
    }
  }
  if (config.teacher.kind === 'recorded') mustExist('teacher.path', config.teacher.path);
  if (config.teacher.kind === 'llm') mustExist('teacher.demos', config.teacher.demos);
  if ('checkpoint' in config.student) mustExist('student.checkpoint', config.student.checkpoint);
  if (config.judge.kind === 'checkpoint') mustExist('judge.path', config.judge.path);
  if (config.rl.prompts.kind === 'file') mustExist('rl.prompts.path', config.rl.prompts.path);
  const missingRewardPaths = config.rewards.paths.filter((path) => !existsSync(path));
  config.rewards.paths.forEach((path, i) => mustExist(`rewards.paths[${i}]`, path));
  if (missingRewardPaths.length === 0) {
    try {
      loadRewardFiles(config.rewards.paths);
    } catch (error) {
      problems.push(`rewards.paths: ${(error as Error).message}`);
    }
  }
  const known = listRewards().map((r) => r.name);
  const unknown = Object.keys(config.rewards.weights).filter((name) => !hasReward(name));
  for (const name of unknown) problems.push(`rewards.weights.${name}: unknown reward (known: ${known.join(', ')})`);
  if (unknown.length === 0 && missingRewardPaths.length === 0) {
    try {
      // Building the composite checks the expression's names and each module's option names.
      const { weights, expression, options } = config.rewards;
      new CompositeReward({ weights, expression, options });
    } catch (error) {
      problems.push(`rewards: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
}

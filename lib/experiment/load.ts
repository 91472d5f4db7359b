import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { requireUserModule } from '../user-module';
import { applyOverrides, ConfigError, validateExperiment } from './config';
import { preflight } from './preflight';
import type { ExperimentConfig, ExperimentInput } from './schema';

/**
 * Load an experiment file (`.ts` or `.js`, `export default defineExperiment({...})`), apply `--set` overrides and
 * validate it, then check paths and names ({@link preflight}). Every failure names the file: a missing file, a file
 * that throws on import, a bad field, a missing path, an unknown reward.
 */
export function loadExperiment(file: string, overrides: string[] = [], options: { preflight?: boolean } = {}): ExperimentConfig {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(file, ['file not found']);
  let exported: unknown;
  try {
    const module = requireUserModule(path) as { default?: unknown };
    exported = module.default ?? module;
  } catch (error) {
    throw new ConfigError(file, [`the file threw while loading: ${(error as Error).message.split('\n')[0]}`]);
  }
  if (typeof exported !== 'object' || exported === null) {
    throw new ConfigError(file, ['the file must `export default defineExperiment({...})`']);
  }
  const config = validateExperiment(applyOverrides(exported as ExperimentInput, overrides), file);
  if (options.preflight ?? true) preflight(config, file);
  return config;
}

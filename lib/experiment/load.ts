import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { applyOverrides, ConfigError, validateExperiment } from './config';
import { preflight } from './preflight';
import type { ExperimentConfig, ExperimentInput } from './schema';

/**
 * Why importing the file failed. A syntax error keeps its location: esbuild (tsx, the command line) reports
 * "Transform failed with 1 error:" then `file:line:column: ERROR: ...`; swc (the tests) "x <what>" then
 * `,-[file:line:column]`. Any other error keeps its first line.
 */
function loadFailure(error: Error): string {
  const message = error.message ?? String(error);
  const lines = message.split('\n').filter((line) => line.trim());
  const location = /([^\s[\]]+\.[cm]?[jt]sx?):(\d+):(\d+)/.exec(message);
  const esbuild = /^Transform failed with \d+ errors?/.test(lines[0] ?? '');
  if (location && (esbuild || /Syntax Error/.test(message))) {
    const what = esbuild ? (lines[1] ?? '').replace(/^.*?: ERROR: /, '') : (lines[0] ?? '').replace(/^\s*x\s*/, '');
    return `syntax error at ${location[1]}:${location[2]}:${location[3]}: ${what}`;
  }
  return `the file threw while loading: ${lines[0] ?? message}`;
}

/** Dotted path of the first function-valued field (configs are data: they are cloned and hashed), if any. */
function findFunction(value: unknown, path: string[]): string | undefined {
  if (typeof value === 'function') return path.join('.') || '(the export)';
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = findFunction(child, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

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
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require(path) as { default?: unknown };
    exported = module.default ?? module;
  } catch (error) {
    throw new ConfigError(file, [loadFailure(error as Error)]);
  }
  if (typeof exported !== 'object' || exported === null) {
    throw new ConfigError(file, ['the file must `export default defineExperiment({...})`']);
  }
  const functionField = findFunction(exported, []);
  if (functionField) {
    throw new ConfigError(file, [`field "${functionField}" is a function; an experiment config holds data only (numbers, strings, booleans, lists, objects)`]);
  }
  const config = validateExperiment(applyOverrides(exported as ExperimentInput, overrides), file);
  if (options.preflight ?? true) {
    preflight(config, file);
    for (const folder of [config.output, join(config.output, config.name)]) {
      if (existsSync(folder) && !statSync(folder).isDirectory()) throw new ConfigError(file, [`output: "${folder}" is a file, not a folder`]);
    }
  }
  return config;
}

/**
 * The reward registry: names to factories. One per process: the built-ins (`rewards/`) register themselves when the
 * package entry loads them, custom files are loaded by path, and a user's `registerReward` adds to the same map.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { requireUserModule } from '../user-module';
import type { RewardModule } from './types';
import type { RewardDefinition, RewardOptions } from './define';

/** Makes a configured module from its options. */
export type RewardFactory = (options: RewardOptions) => RewardModule;

interface Entry {
  factory: RewardFactory;
  description: string;
  needsJudge: boolean;
  /** The object registered, so loading the same file twice is not a conflict. */
  source: unknown;
}

const registry = new Map<string, Entry>();

function isDefinition(value: unknown): value is RewardDefinition {
  return typeof value === 'object' && value !== null && typeof (value as RewardDefinition).create === 'function';
}

/**
 * Register a reward under `name`: a {@link RewardDefinition} (from `defineReward`) or a factory function.
 * A different reward under a name already taken is an error.
 */
export function registerReward(name: string, factory: RewardDefinition | RewardFactory): void {
  addEntry(name, isDefinition(factory)
    ? { factory: (options) => factory.create(options), description: factory.description, needsJudge: factory.needsJudge, source: factory }
    : { factory, description: '', needsJudge: false, source: factory });
}

function addEntry(name: string, entry: Entry): void {
  const existing = registry.get(name);
  if (existing && existing.source !== entry.source) throw new Error(`reward "${name}" is already registered; pick another name`);
  registry.set(name, entry);
}

/** A reward by name, optionally with options: `'coherence'` or `{ name: 'coherence', options: { ngram: 4 } }`. */
export type RewardSpecifier = string | { name: string; options?: RewardOptions };

/** The configured module a specifier names; an unknown name is an error listing the known ones. */
export function createReward(spec: RewardSpecifier): RewardModule {
  const { name, options = {} } = typeof spec === 'string' ? { name: spec } : spec;
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown reward "${name}" (known: ${[...registry.keys()].sort().join(', ')})`);
  return entry.factory(options);
}

/** Every registered reward with its description and whether it needs a judge. */
export function listRewards(): { name: string; description: string; needsJudge: boolean }[] {
  return [...registry.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, e]) => ({ name, description: e.description, needsJudge: e.needsJudge }));
}

/** True when `name` is registered. */
export function hasReward(name: string): boolean {
  return registry.has(name);
}

const MODULE_EXTENSIONS = new Set(['.ts', '.js', '.cjs', '.mts', '.mjs']);

function rewardFilesIn(path: string): string[] {
  if (!statSync(path, { throwIfNoEntry: false })) throw new Error(`reward path ${path} does not exist`);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((file) => MODULE_EXTENSIONS.has(extname(file)) && !file.endsWith('.d.ts') && !/\.(test|spec)\./.test(file))
    .sort()
    .map((file) => join(path, file));
}

/**
 * Load custom reward files (each `export default defineReward({...})`, or a plain `{ name, score }` module) from
 * files or folders, register them by their names, and return those names. Paths are relative to `baseDir`.
 */
export function loadRewardFiles(paths: string[], baseDir = process.cwd()): string[] {
  const names: string[] = [];
  for (const file of paths.flatMap((p) => rewardFilesIn(resolve(baseDir, p)))) {
    const loaded = requireUserModule(file);
    const value = (loaded as { default?: unknown }).default ?? loaded;
    const module = value as Partial<RewardModule>;
    if (typeof module?.name !== 'string' || typeof module.score !== 'function') {
      throw new Error(`${file}: the default export must be a reward module (defineReward({ name, score }))`);
    }
    if (isDefinition(value)) {
      registerReward(module.name, value);
    } else {
      const plain = value as RewardModule;
      const factory: RewardFactory = (options) => {
        if (Object.keys(options).length) throw new Error(`reward "${plain.name}" (${file}) takes no options`);
        return plain;
      };
      addEntry(plain.name, { factory, description: '', needsJudge: false, source: plain });
    }
    names.push(module.name);
  }
  return names;
}

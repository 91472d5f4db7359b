import type { z } from 'zod';
import { experimentSchema, type ExperimentConfig, type ExperimentInput } from './schema';

/** An experiment config that failed validation; `problems` names each bad field. */
export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: invalid experiment config\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Edit distance, for "did you mean" hints on misspelt field names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** The schema object found at `path`, to list the fields allowed there. */
function allowedKeysAt(path: PropertyKey[], value: unknown): string[] {
  let schema: z.ZodType = experimentSchema;
  let node: unknown = value;
  for (const key of path) {
    schema = unwrap(schema, node);
    const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
    if (!shape || typeof key !== 'string' || !(key in shape)) return [];
    schema = shape[key];
    node = (node as Record<string, unknown> | undefined)?.[key];
  }
  const shape = (unwrap(schema, node) as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** Strip defaults/optionals, and pick the union member matching the value's `kind`. */
function unwrap(schema: z.ZodType, value: unknown): z.ZodType {
  let current = schema as unknown as { def: Record<string, unknown> };
  for (;;) {
    const def = current.def;
    if (def.innerType) current = def.innerType as typeof current;
    else if (def.type === 'union' && Array.isArray(def.options)) {
      const kind = (value as { kind?: unknown } | undefined)?.kind;
      const options = def.options as { shape?: Record<string, { def: { values?: unknown[] } }> }[];
      // The member named by `kind`, else the one sharing most field names with the value (then the larger one).
      const keys = value && typeof value === 'object' ? Object.keys(value) : [];
      const overlap = (o: (typeof options)[number]) => keys.filter((k) => o.shape && k in o.shape).length;
      const match = options.find((o) => o.shape?.kind?.def.values?.includes(kind))
        ?? [...options].sort((a, b) => overlap(b) - overlap(a)
          || Object.keys(b.shape ?? {}).length - Object.keys(a.shape ?? {}).length)[0];
      if (!match) return current as unknown as z.ZodType;
      current = match as unknown as typeof current;
    } else return current as unknown as z.ZodType;
  }
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string[] {
  const field = (path: PropertyKey[]) => (path.length ? path.map(String).join('.') : '(top level)');
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(issue.path, input);
    return issue.keys.map((key) => {
      const hint = closest(key, allowed);
      return `${field([...issue.path, key])}: unknown field${hint ? ` (did you mean "${hint}"?)` : ''}`
        + (allowed.length ? `; allowed: ${allowed.join(', ')}` : '');
    });
  }
  if (issue.code === 'invalid_union') {
    if (issue.errors.length === 0) {
      const allowed = 'options' in issue && Array.isArray(issue.options) ? issue.options.map((o) => `"${String(o)}"`) : [];
      const value = issue.path.reduce<unknown>((n, key) => (n as Record<PropertyKey, unknown> | undefined)?.[key], input);
      return [`${field(issue.path)}: ${value === undefined ? 'missing' : `${JSON.stringify(value)} is not allowed`}`
        + (allowed.length ? `; allowed: ${allowed.join(', ')}` : '')];
    }
    // Report the member that came closest (fewest problems).
    const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
    return best.flatMap((inner) => describeIssue({ ...inner, path: [...issue.path, ...inner.path] }, input));
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return [`${field(issue.path)}: missing (expected ${issue.expected})`];
  }
  return [`${field(issue.path)}: ${issue.message}`];
}

/**
 * Validate a user's experiment object and fill in defaults. Throws a {@link ConfigError} whose lines each name
 * one bad field (with the allowed values or a "did you mean" hint).
 */
export function validateExperiment(input: unknown, source = 'experiment'): ExperimentConfig {
  const result = experimentSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(source, result.error.issues.flatMap((issue) => describeIssue(issue, input)));
}

/**
 * Declare an experiment in a TypeScript file (`export default defineExperiment({...})`). Types guide the editor;
 * validation happens when the runner loads it, so the file itself never throws on import for a bad field.
 */
export function defineExperiment(config: ExperimentInput): ExperimentInput {
  return config;
}

/** Apply `--set key.path=value` overrides (values parsed as JSON when they parse, strings otherwise). */
export function applyOverrides(config: ExperimentInput, overrides: string[]): ExperimentInput {
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const override of overrides) {
    const eq = override.indexOf('=');
    if (eq <= 0) throw new ConfigError('--set', [`"${override}": expected key.path=value`]);
    const path = override.slice(0, eq).split('.');
    const forbidden = path.find((key) => key === '__proto__' || key === 'constructor' || key === 'prototype');
    if (forbidden) throw new ConfigError('--set', [`"${override}": "${forbidden}" cannot be set (it is not a config field)`]);
    const raw = override.slice(eq + 1);
    let value: unknown;
    try { value = JSON.parse(raw); } catch { value = raw; }
    let node = copy;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return copy as ExperimentInput;
}

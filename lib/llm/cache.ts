import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs';
import type { CompletionResult } from './types';

/** JSON with object keys sorted and undefined fields dropped, so equal requests give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** What a cache entry is keyed on: the endpoint kind, the model and every field of the request. */
export interface CacheKeySource {
  kind: 'completion' | 'chat';
  model: string;
  request: object;
}

interface CacheEntry extends CacheKeySource {
  key: string;
  result: CompletionResult;
}

/**
 * LLM responses on disk, one JSON file per request at `<dir>/<key[0:2]>/<key>.json`, keyed by the SHA-256 of the
 * canonical request. Each file is written to a temporary name and renamed, so a crash mid-write leaves either no
 * entry or a whole one; an unreadable file (e.g. edited by hand) is treated as a miss and rewritten.
 * Samples drawn at temperature > 0 are cached like any other answer: a rerun sees the same samples.
 */
export class DiskCache {
  constructor(readonly dir: string) {}

  key(source: CacheKeySource): string {
    return createHash('sha256').update(canonicalJson(source)).digest('hex');
  }

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  get(key: string): CompletionResult | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const entry = JSON.parse(text) as CacheEntry;
      return entry.key === key && Array.isArray(entry.result?.choices) ? entry.result : undefined;
    } catch {
      return undefined;
    }
  }

  set(key: string, source: CacheKeySource, result: CompletionResult): void {
    const { cached: _cached, ...stored } = result;
    const entry: CacheEntry = { key, ...source, result: stored };
    writeFileAtomic(this.path(key), JSON.stringify(entry));
  }
}

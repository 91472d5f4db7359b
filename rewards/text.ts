/**
 * Text helpers shared by the built-in reward modules: sentences, content words, bags of words.
 */
import type * as Natural from 'natural';
import type { Example } from '../lib/data/types';
import { sentences } from '../lib/eval/quality';

export { sentences };

let loaded: typeof Natural | undefined;

/**
 * natural through its public entry, loaded once, on first use. The entry also loads natural's storage modules,
 * each of which calls `require('dotenv').config()`: that would print a line per call to stdout (breaking `--json`
 * output) and copy the working folder's `.env` into `process.env`. So the first call loads it with
 * `DOTENV_CONFIG_QUIET` set and then restores `process.env` as it was: keys dotenv added are removed, values it
 * changed are put back. Loading takes ~1.5 s (see README, rewards).
 */
export function natural(): typeof Natural {
  if (loaded) return loaded;
  const before = { ...process.env };
  process.env.DOTENV_CONFIG_QUIET = 'true';
  try {
    loaded = require('natural') as typeof Natural;
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in before)) delete process.env[key];
    for (const [key, value] of Object.entries(before)) if (process.env[key] !== value) process.env[key] = value;
  }
  return loaded;
}

let wordTokenizer: Natural.WordTokenizer | undefined;
let stopwords: Set<string> | undefined;

/** Lower-cased word tokens (letters and digits). */
export function words(text: string): string[] {
  wordTokenizer ??= new (natural().WordTokenizer)();
  return wordTokenizer.tokenize(text.toLowerCase()) ?? [];
}

/** Stemmed words without stopwords: what a sentence is about. */
export function contentWords(text: string): string[] {
  const { PorterStemmer } = natural();
  stopwords ??= new Set(natural().stopwords);
  return words(text).filter((w) => !stopwords!.has(w)).map((w) => PorterStemmer.stem(w));
}

/** Counts of each item. */
export function bagOf(items: string[]): Map<string, number> {
  const bag = new Map<string, number>();
  for (const item of items) bag.set(item, (bag.get(item) ?? 0) + 1);
  return bag;
}

/** Cosine similarity of two sparse vectors (0 when either is empty). */
export function cosine(a: Map<string, number>, b: Map<string, number>): number {
  let dot = 0;
  for (const [key, value] of a) dot += value * (b.get(key) ?? 0);
  const norm = (v: Map<string, number>) => Math.sqrt([...v.values()].reduce((s, x) => s + x * x, 0));
  const denominator = norm(a) * norm(b);
  return denominator === 0 ? 0 : dot / denominator;
}

/** Everything the rationale may draw on: context paragraphs, the question and the answer choices. */
export function sourceText(example: Example): string {
  const parts = (example.context ?? []).map((p) => `${p.title}. ${p.text}`);
  parts.push(example.question);
  for (const choice of example.choices ?? []) parts.push(choice.text);
  return parts.join('\n');
}

/** Mean of the numbers, or `empty` when there are none. */
export function mean(values: number[], empty: number): number {
  return values.length === 0 ? empty : values.reduce((a, b) => a + b, 0) / values.length;
}

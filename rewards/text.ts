/**
 * Text helpers shared by the built-in reward modules: sentences, content words, bags of words.
 */
import type { TfIdf as TfIdfClass } from 'natural/lib/natural/tfidf';
import type { PorterStemmer as PorterStemmerType, WordTokenizer as WordTokenizerClass } from 'natural/lib/natural';
import type { Example } from '../lib/data/types';
import { sentences } from '../lib/eval/quality';

// natural's package entry also loads its sentiment module, an ES module that CommonJS (and jest) cannot require;
// these are the files of the parts used here, typed by natural's own declarations.
export const TfIdf: typeof TfIdfClass = require('natural/lib/natural/tfidf/tfidf');
const { WordTokenizer } = require('natural/lib/natural/tokenizers/regexp_tokenizer') as { WordTokenizer: typeof WordTokenizerClass };
const PorterStemmer: typeof PorterStemmerType = require('natural/lib/natural/stemmers/porter_stemmer');
const { words: stopwords } = require('natural/lib/natural/util/stopwords') as { words: string[] };

export { sentences };

const tokenizer = new WordTokenizer();
const STOPWORDS = new Set(stopwords);

/** Lower-cased word tokens (letters and digits). */
export function words(text: string): string[] {
  return tokenizer.tokenize(text.toLowerCase()) ?? [];
}

/** Stemmed words without stopwords: what a sentence is about. */
export function contentWords(text: string): string[] {
  return words(text).filter((w) => !STOPWORDS.has(w)).map((w) => PorterStemmer.stem(w));
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

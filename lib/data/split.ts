import { Random } from '../random';
import type { Example } from './types';

/** Options for {@link splitExamples}. */
export interface SplitOptions {
  seed: number;
  /** Share of examples held out for testing (default 0.3, as Fine-tune-CoT). */
  testFraction?: number;
  /**
   * Keep the source's own split when the examples carry one (`metadata.split` of `train` and `test` on every
   * example, both present). Default true.
   */
  useSourceSplit?: boolean;
}

/** A train/test split. */
export interface Split {
  train: Example[];
  test: Example[];
}

function sourceSplit(examples: readonly Example[]): Split | undefined {
  const splits = examples.map((e) => e.metadata?.split);
  if (!splits.every((s) => s === 'train' || s === 'test') || !splits.includes('train') || !splits.includes('test')) return undefined;
  return { train: examples.filter((e) => e.metadata?.split === 'train'), test: examples.filter((e) => e.metadata?.split === 'test') };
}

/**
 * Split examples into train and test, deterministically by seed: the examples are ordered by id, shuffled with
 * the seeded generator, and the first round(n * testFraction) go to test. The result depends only on the set of
 * ids and the seed, not on the input order; each part keeps the input order. Sets that come with their own split
 * keep it unless `useSourceSplit` is false.
 */
export function splitExamples(examples: readonly Example[], options: SplitOptions): Split {
  const testFraction = options.testFraction ?? 0.3;
  if (!(testFraction >= 0 && testFraction <= 1)) throw new Error(`splitExamples: testFraction must be in [0, 1], got ${testFraction}`);
  if (!Number.isInteger(options.seed)) throw new Error(`splitExamples: seed must be an integer, got ${options.seed}`);
  if (options.useSourceSplit !== false) {
    const given = sourceSplit(examples);
    if (given) return given;
  }
  const ids = examples.map((e) => e.id);
  if (new Set(ids).size !== ids.length) {
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    throw new Error(`splitExamples: duplicate example id "${duplicate}"`);
  }
  const order = new Random(options.seed).shuffle([...ids].sort());
  const testIds = new Set(order.slice(0, Math.round(examples.length * testFraction)));
  return { train: examples.filter((e) => !testIds.has(e.id)), test: examples.filter((e) => testIds.has(e.id)) };
}

/**
 * Results of one experiment over seeds: each run folder's held-out accuracy per condition, the RL − distilled
 * difference with its paired bootstrap interval and McNemar p (from the run's eval/results.json), and over the runs
 * the mean difference with its 95% t-interval and a McNemar p pooled over all question-seed pairs.
 *
 *   npm run bench:seeds -- checkpoints/default-seed1 checkpoints/default-seed2 ...
 *   npx tsx bench/seeds.ts --a distilled --b rl checkpoints/default-seed*
 *
 * Prints a table, then one JSON object as the last line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { mcnemarExact, seedSummary, type PairedComparison } from '../lib/eval/stats';
import { gitCommit } from './commit';

interface Results {
  conditions: { condition: string; accuracy: number; rewards?: { total: number } }[];
  comparisons: PairedComparison[];
}

interface RunSummary {
  run: string;
  seed: number;
  accuracy: Record<string, number>;
  /** Percentage points, b − a. */
  diff: number;
  ci95: [number, number];
  onlyA: number;
  onlyB: number;
  pValue: number;
}

function summarize(folder: string, a: string, b: string): RunSummary {
  const file = join(folder, 'eval', 'results.json');
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as { config: { seed: number } };
  const pair = results.comparisons.find((c) => c.a === a && c.b === b);
  if (!pair) throw new Error(`${file}: no comparison of "${a}" and "${b}" (conditions: ${results.conditions.map((c) => c.condition).join(', ')})`);
  return {
    run: folder,
    seed: manifest.config.seed,
    accuracy: Object.fromEntries(results.conditions.map((c) => [c.condition, c.accuracy * 100])),
    diff: pair.diff, ci95: pair.ci95, onlyA: pair.onlyA, onlyB: pair.onlyB, pValue: pair.pValue,
  };
}

const argv = yargs(hideBin(process.argv))
  .usage('npx tsx bench/seeds.ts [--a distilled] [--b rl] <run folder>...')
  .option('a', { type: 'string', default: 'distilled', describe: 'baseline condition' })
  .option('b', { type: 'string', default: 'rl', describe: 'compared condition' })
  .demandCommand(1, 'give the run folders (e.g. checkpoints/default-seed1 ...)')
  .strict()
  .parseSync();

const runs = argv._.map((folder) => summarize(String(folder), argv.a, argv.b));
const fmt = (x: number) => x.toFixed(1);
const signed = (x: number) => (x >= 0 ? `+${fmt(x)}` : fmt(x));
const conditions = Object.keys(runs[0].accuracy);
console.log(`commit ${gitCommit()}; ${runs.length} runs`);
console.log(['held-out accuracy %', ...runs.map((r) => `seed ${r.seed}`), 'mean'].join(' | '));
for (const condition of conditions) {
  const values = runs.map((r) => r.accuracy[condition]);
  console.log([condition, ...values.map(fmt), fmt(seedSummary(values).mean)].join(' | '));
}
const diffs = seedSummary(runs.map((r) => r.diff));
const onlyA = runs.reduce((s, r) => s + r.onlyA, 0);
const onlyB = runs.reduce((s, r) => s + r.onlyB, 0);
const pooledP = mcnemarExact(onlyA, onlyB);
console.log([`${argv.b} − ${argv.a}, points [paired bootstrap 95%]`, ...runs.map((r) => `${signed(r.diff)} [${signed(r.ci95[0])}, ${signed(r.ci95[1])}]`),
  `${signed(diffs.mean)} [${signed(diffs.ci95[0])}, ${signed(diffs.ci95[1])}] (t-interval over runs)`].join(' | '));
console.log([`only ${argv.a} / only ${argv.b} right; McNemar p`, ...runs.map((r) => `${r.onlyA} / ${r.onlyB}; ${r.pValue.toFixed(2)}`),
  `${onlyA} / ${onlyB}; ${pooledP.toFixed(3)} (pooled)`].join(' | '));
console.log(JSON.stringify({
  commit: gitCommit(), a: argv.a, b: argv.b, runs,
  diffMean: diffs.mean, diffStd: diffs.std, diffCI95: diffs.ci95, pooled: { onlyA, onlyB, mcnemarP: pooledP },
}));

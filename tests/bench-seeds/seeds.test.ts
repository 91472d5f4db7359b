import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareAllPairs } from '../../lib/eval/stats';

/** A run folder with just what bench/seeds.ts reads: the manifest's seed and eval/results.json. */
function writeRun(root: string, seed: number, distilled: boolean[], rl: boolean[]): string {
  const folder = join(root, `run-seed${seed}`);
  mkdirSync(join(folder, 'eval'), { recursive: true });
  writeFileSync(join(folder, 'manifest.json'), JSON.stringify({ config: { seed } }));
  const conditions = [{ condition: 'distilled', correct: distilled }, { condition: 'rl', correct: rl }]
    .map((c) => ({ ...c, n: c.correct.length, accuracy: c.correct.filter(Boolean).length / c.correct.length }));
  writeFileSync(join(folder, 'eval', 'results.json'), JSON.stringify({ conditions, comparisons: compareAllPairs(conditions, { resamples: 200 }) }));
  return folder;
}

/** n answers, the first `right` of them correct. */
const answers = (n: number, right: number) => Array.from({ length: n }, (_, i) => i < right);

test('bench:seeds: per-run differences, their t-interval over runs and a pooled McNemar p', () => {
  const root = mkdtempSync(join(tmpdir(), 'rrl-seeds-'));
  try {
    // 20 questions each. Run 1: distilled 10, RL 14 (+20 points; 0 only-distilled, 4 only-RL).
    // Run 2: distilled 12, RL 11 (−5 points; 1 / 0). Run 3: distilled 8, RL 10 (+10 points; 0 / 2).
    const folders = [writeRun(root, 1, answers(20, 10), answers(20, 14)), writeRun(root, 2, answers(20, 12), answers(20, 11)),
      writeRun(root, 3, answers(20, 8), answers(20, 10))];
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'bench/seeds.ts', ...folders], { encoding: 'utf8' });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result.runs.map((r: { diff: number }) => r.diff)).toEqual([20, -5, 10]);
    // mean 25/3; sample std sqrt(((35/3)² + (40/3)² + (5/3)²) / 2) = sqrt(2850 / 18); t(0.975, 2) = 4.302653
    expect(result.diffMean).toBeCloseTo(25 / 3, 10);
    expect(result.diffStd).toBeCloseTo(Math.sqrt(2850 / 18), 10);
    const half = 4.302653 * Math.sqrt(2850 / 18) / Math.sqrt(3);
    expect(result.diffCI95[0]).toBeCloseTo(25 / 3 - half, 3);
    expect(result.diffCI95[1]).toBeCloseTo(25 / 3 + half, 3);
    // pooled discordant pairs: 1 only-distilled, 6 only-RL; exact two-sided p = 2 · P(X <= 1 | n 7, 1/2) = 2 · 8 / 128
    expect([result.pooled.onlyA, result.pooled.onlyB]).toEqual([1, 6]);
    expect(result.pooled.mcnemarP).toBeCloseTo(0.125, 12);
    expect(stdout).toContain('rl − distilled');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bench:seeds names the file when a run lacks the compared conditions', () => {
  const root = mkdtempSync(join(tmpdir(), 'rrl-seeds-'));
  try {
    const folder = writeRun(root, 1, answers(4, 2), answers(4, 3));
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'bench/seeds.ts', '--b', 'teacher', folder], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      stderr = String((error as { stderr: string }).stderr);
    }
    expect(stderr).toContain(join(folder, 'eval', 'results.json'));
    expect(stderr).toContain('no comparison of "distilled" and "teacher"');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../lib/data/datasets';

// The benchmark end to end on the real data with a tiny student: RL questions over listed names, table, curves, JSON line.
test('bench:rl --quick refines Last Letter on questions over listed names and prints one JSON object per seed as its last line', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-rl-'));
  try {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'bench/rl.ts', '--quick', '--dataset', 'last_letters', '--distill-seeds', '0', '--seeds', '1', '--out', out],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = stdout.trim().split('\n');
    expect(lines.some((line) => line.startsWith('| **judge accuracy %, RL**'))).toBe(true);
    const figures = JSON.parse(lines[lines.length - 1]);
    expect(Object.keys(figures)).toEqual(['commit', 'last_letters']);
    expect(figures.commit).toMatch(/^[0-9a-f]{7,40}(\+changes)?$/);
    expect(lines).toContain(`commit ${figures.commit}`);
    const ll = figures.last_letters;
    expect(ll.seeds).toEqual([1]);
    expect(ll.distillSeeds).toEqual([0]);
    // one run: the difference is its own mean, and a t-interval needs two runs
    expect(ll.diffMean).toBeCloseTo(100 * (ll.judgeAccuracyRL[0] - ll.judgeAccuracyDistilled[0]), 1);
    expect(ll.diffCI95).toEqual([null, null]);
    expect(ll.diffCI95Students).toEqual([null, null]);
    expect(ll.mcnemarP[0]).toBeGreaterThan(0);
    expect(ll.mcnemarP[0]).toBeLessThanOrEqual(1);
    for (const key of ['judgeAccuracyDistilled', 'judgeAccuracyRL', 'rewardDistilled', 'rewardRL']) {
      expect(ll[key]).toHaveLength(1);
      expect(ll[key][0]).toBeGreaterThanOrEqual(0);
    }
    // Last Letter's RL questions by default: over listed real names that no question of the dataset has (train or
    // test), none of them a test question, gold answers computed.
    const test = readFileSync(join(out, 'last_letters-d0', 'data', 'test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).question);
    const list = new Set(readFileSync('data/names/first-names.txt', 'utf8').split('\n'));
    const inDataset = new Set(loadDataset('last_letters').flatMap((e) => /"(.+)"/.exec(e.question)![1].split(' ')));
    const prompts = readFileSync(join(out, 'last_letters-d0-seed1', 'rl', 'prompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(prompts.length).toBeGreaterThan(2000);
    expect(prompts.filter((p) => test.includes(p.question))).toEqual([]);
    expect(prompts.flatMap((p) => /"(.+)"/.exec(p.question)![1].split(' ')).filter((w: string) => !list.has(w) || inDataset.has(w))).toEqual([]);
    for (const p of prompts.slice(0, 10)) {
      expect(p.answers).toEqual([/"(.+)"/.exec(p.question)![1].split(' ').map((w: string) => w.at(-1)).join('')]);
    }
    const curves = JSON.parse(readFileSync(join(out, 'curves.json'), 'utf8'));
    expect(curves.last_letters['d0-seed1']).toHaveLength(2);
    // the shared run's student is bench:distill's recipe: teacher-correct rows plus as many recombined ones (--quick: 1x)
    const manifest = JSON.parse(readFileSync(join(out, 'last_letters-d0', 'manifest.json'), 'utf8'));
    expect(manifest.stages.distill.summary.recordsAugmented).toBe(manifest.stages.distill.summary.recordsKept);
    // Last Letter's RL learning rate is its own default (chosen on validation questions), not Coin Flip's
    const rlConfig = JSON.parse(readFileSync(join(out, 'last_letters-d0-seed1', 'manifest.json'), 'utf8')).config.rl;
    expect(rlConfig.learningRate).toBe(1e-4);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);

const questionsOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; answers: string[] });
const wordsOf = (question: string) => /"(.+)"/.exec(question)![1].split(' ');

// --validation names: the test run's student, scored on questions over listed real names that no dataset question has.
test('bench:rl --validation names evaluates on questions over listed names that no question of the dataset has; --distill-epochs and --distill-lr set the recipe\'s', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-rl-names-'));
  try {
    const { stdout, stderr, status } = spawnSync(process.execPath, ['--import', 'tsx', 'bench/rl.ts', '--quick', '--dataset', 'last_letters', '--distill-seeds', '1', '--seeds', '2', '--validation', 'names', '--distill-epochs', '2', '--distill-lr', '0.004', '--out', out],
      { encoding: 'utf8' });
    expect(status).toBe(0);
    expect(stdout).toContain('validation questions over listed names');
    // --distill-epochs: the shared student trains 2 epochs of its rows in batches of 8
    const rows = Number(/last_letters: (\d+) rows/.exec(stderr)![1]);
    expect(stderr).toContain(`step 1/${2 * Math.ceil(rows / 8)} epoch 1`);
    const { distill } = JSON.parse(readFileSync(join(out, 'last_letters-d1', 'manifest.json'), 'utf8')).config;
    expect([distill.epochs, distill.learningRate]).toEqual([2, 0.004]);
    const list = new Set(readFileSync('data/names/first-names.txt', 'utf8').split('\n'));
    const inDataset = new Set(loadDataset('last_letters').flatMap((e) => wordsOf(e.question)));
    const run = join(out, 'last_letters-d1-val-names-seed2');
    const validation = questionsOf(join(run, 'data', 'test.jsonl'));
    expect(validation).toHaveLength(150);
    const words = validation.flatMap((e) => wordsOf(e.question));
    expect(words.filter((w) => !list.has(w) || inDataset.has(w))).toEqual([]);
    for (const e of validation) expect(e.answers).toEqual([wordsOf(e.question).map((w) => w.at(-1)).join('')]);
    // the RL questions' names are not validation names; the run is scored on the validation questions
    const rlWords = new Set(questionsOf(join(run, 'rl', 'prompts.jsonl')).flatMap((e) => wordsOf(e.question)));
    expect(words.filter((w) => rlWords.has(w))).toEqual([]);
    const results = JSON.parse(readFileSync(join(run, 'eval', 'results.json'), 'utf8'));
    expect(results.conditions.find((c: { condition: string }) => c.condition === 'rl').n).toBe(12);
    expect(readFileSync(join(out, 'last_letters-d1', 'data', 'test.jsonl'), 'utf8')).not.toContain('validation-');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);

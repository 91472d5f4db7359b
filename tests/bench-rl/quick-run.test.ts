import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../lib/data/datasets';
import { splitExamples } from '../../lib/data/split';

// The benchmark end to end on the real data with a tiny student: RL questions over novel names, table, curves, JSON line.
test('bench:rl --quick refines on questions over novel names and prints one JSON object per seed as its last line', () => {
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
    // RL questions: over novel names (none a train split's name), none of them a test question, gold answers computed.
    const test = readFileSync(join(out, 'last_letters-d0', 'data', 'test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).question);
    const trainNames = new Set(readFileSync(join(out, 'last_letters-d0', 'data', 'train.jsonl'), 'utf8').trim().split('\n')
      .flatMap((l) => /"(.+)"/.exec(JSON.parse(l).question)![1].split(' ')));
    const prompts = readFileSync(join(out, 'last_letters-d0-seed1', 'rl', 'prompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(prompts.length).toBeGreaterThan(2000);
    expect(prompts.filter((p) => test.includes(p.question))).toEqual([]);
    expect(prompts.flatMap((p) => /"(.+)"/.exec(p.question)![1].split(' ')).filter((w: string) => trainNames.has(w))).toEqual([]);
    for (const p of prompts.slice(0, 10)) {
      expect(p.answers).toEqual([/"(.+)"/.exec(p.question)![1].split(' ').map((w: string) => w.at(-1)).join('')]);
    }
    const curves = JSON.parse(readFileSync(join(out, 'curves.json'), 'utf8'));
    expect(curves.last_letters['d0-seed1']).toHaveLength(2);
    // the shared run's student is bench:distill's recipe: teacher-correct rows plus as many recombined ones (--quick: 1x)
    const manifest = JSON.parse(readFileSync(join(out, 'last_letters-d0', 'manifest.json'), 'utf8'));
    expect(manifest.stages.distill.summary.recordsAugmented).toBe(manifest.stages.distill.summary.recordsKept);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);

const idsOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);

// --validation held-out: a dev student distilled without 30% of the train split, evaluated on those real questions.
test('bench:rl --validation held-out distils a dev student without the dev questions and evaluates it on them', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-rl-dev-'));
  try {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'bench/rl.ts', '--quick', '--dataset', 'last_letters', '--distill-seeds', '1', '--seeds', '2', '--validation', 'held-out', '--out', out],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(stdout).toContain('evaluated on the dev split');
    const { train } = splitExamples(loadDataset('last_letters'), { seed: 1, testFraction: 0.3 });
    const shared = join(out, 'last_letters-d1-dev');
    const kept = idsOf(join(shared, 'data', 'train.jsonl'));
    const dev = idsOf(join(shared, 'data', 'test.jsonl'));
    expect(dev).toHaveLength(Math.round(0.3 * train.length));
    expect(kept.filter((id) => dev.includes(id))).toEqual([]);
    expect([...kept, ...dev].sort()).toEqual(train.map((e) => e.id).sort());
    // the dev student learns from the kept questions' teacher-correct rationales only, none of a dev question's
    const correct = readFileSync(join(shared, 'teacher', 'rationales.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      .filter((r) => r.correct).map((r) => r.exampleId as string);
    const manifest = JSON.parse(readFileSync(join(shared, 'manifest.json'), 'utf8'));
    expect(manifest.stages.distill.summary.recordsKept).toBe(correct.filter((id) => kept.includes(id)).length);
    expect(correct.filter((id) => dev.includes(id)).length).toBeGreaterThan(0);
    // the RL run copies the dev student and is scored on the dev questions (the first 12 with --quick)
    const results = JSON.parse(readFileSync(join(out, 'last_letters-d1-dev-seed2', 'eval', 'results.json'), 'utf8'));
    const rl = results.conditions.find((c: { condition: string }) => c.condition === 'rl');
    expect(rl.n).toBe(12);
    expect(idsOf(join(out, 'last_letters-d1-dev-seed2', 'data', 'test.jsonl'))).toEqual(dev);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);

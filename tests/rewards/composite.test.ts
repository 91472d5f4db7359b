import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Example } from '../../lib/data/types';
import { CompositeReward, createReward, defineReward, listRewards, loadRewardFiles, registerReward } from '../../rewards';

const example: Example = { id: 'x/1', question: 'Take the last letters of "Ann Bob".', answers: ['nb'], answerType: 'text' };
const batch = ['short one', 'a rationale that is a good deal longer than that', 'mid length'].map((rationale) => ({ example, rationale }));

// Test-only modules: their scores are simple functions of the text, so the combination can be checked by hand.
const length = defineReward({ name: 'test-length', score: async (b) => b.map((x) => x.rationale.length) });
const words = defineReward({ name: 'test-words', defaults: { scale: 1 }, score: async (b, _c, { scale }) => b.map((x) => scale * x.rationale.split(' ').length) });
registerReward(length.name, length);
registerReward(words.name, words);

describe('registry', () => {
  test('an unknown name lists the known ones', () => {
    expect(() => createReward('relevancy')).toThrow(/unknown reward "relevancy" \(known: .*aspects.*coherence.*factuality.*length-guard.*relevance/);
  });

  test('built-ins are listed with descriptions and judge needs', () => {
    const byName = Object.fromEntries(listRewards().map((r) => [r.name, r]));
    for (const name of ['relevance', 'coherence', 'factuality', 'answer-correctness', 'aspects', 'length-guard']) expect(byName[name]).toBeDefined();
    expect(byName['answer-correctness'].needsJudge).toBe(true);
    expect(byName.relevance.needsJudge).toBe(false);
  });

  test('a second, different reward under a taken name is refused', () => {
    registerReward(length.name, length); // the same one again is fine
    expect(() => registerReward('test-length', () => length)).toThrow('reward "test-length" is already registered');
  });

  test('a judge-based reward without a judge says so', async () => {
    await expect(createReward('answer-correctness').score(batch, {})).rejects.toThrow('reward "answer-correctness" needs a judge');
  });
});

describe('custom reward files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrl-rewards-'));
  writeFileSync(join(dir, 'vowels.ts'), `import { defineReward } from 'rationale-rl/rewards';
export default defineReward({
  name: 'vowel-share',
  defaults: { vowels: 'aeiou' },
  score: async (batch, _context, { vowels }) => batch.map(({ rationale }) => {
    const letters = rationale.replace(/[^a-z]/gi, '');
    return letters ? [...letters].filter((c) => vowels.includes(c.toLowerCase())).length / letters.length : 0;
  }),
});
`);
  writeFileSync(join(dir, 'plain.js'), `module.exports = { name: 'always-two', score: async (batch) => batch.map(() => 2) };\n`);
  writeFileSync(join(dir, 'notes.md'), 'not a module');

  test('a folder of reward files plugs in by name and is used by a composite', async () => {
    expect(loadRewardFiles([dir])).toEqual(['always-two', 'vowel-share']);
    expect(loadRewardFiles([join(dir, 'vowels.ts')])).toEqual(['vowel-share']); // loading again is harmless
    const composite = new CompositeReward({ weights: { 'vowel-share': 1, 'always-two': 0.5 }, options: { 'vowel-share': { vowels: 'a' } } });
    const scores = await composite.scoreAll([{ example, rationale: 'banana' }, { example, rationale: 'xyz' }]);
    expect(scores.components['vowel-share']).toEqual([0.5, 0]);
    expect(scores.total).toEqual([1.5, 1]);
  });

  test('a file without a reward default export is an error naming the file', () => {
    const bad = join(dir, 'bad', 'broken.js');
    require('node:fs').mkdirSync(join(dir, 'bad'));
    writeFileSync(bad, 'module.exports = { default: 42 };\n');
    expect(() => loadRewardFiles([bad])).toThrow(`${bad}: the default export must be a reward module`);
    expect(() => loadRewardFiles([join(dir, 'missing')])).toThrow(/reward path .*missing does not exist/);
  });
});

describe('composite', () => {
  test('weighted sum, with every component per sample', async () => {
    const scores = await new CompositeReward({ weights: { 'test-length': 0.1, 'test-words': 2 } }).scoreAll(batch);
    expect(scores.components['test-length']).toEqual([9, 48, 10]);
    expect(scores.components['test-words']).toEqual([2, 10, 2]);
    [0.9 + 4, 4.8 + 20, 1 + 4].forEach((t, i) => expect(scores.total[i]).toBeCloseTo(t, 10));
    expect(scores.valid).toEqual([true, true, true]);
  });

  test('a mathjs expression over module names (- written _), modules it names run even without a weight', async () => {
    const composite = new CompositeReward({ weights: { 'test-words': 1 }, expression: 'test_words * min(test_length, 10) / 10' });
    const scores = await composite.scoreAll(batch);
    expect(Object.keys(scores.components).sort()).toEqual(['test-length', 'test-words']);
    [2 * 0.9, 10 * 1, 2 * 1].forEach((t, i) => expect(scores.total[i]).toBeCloseTo(t, 10));
    expect(() => new CompositeReward({ weights: { 'test-words': 1 }, expression: 'test_words + bogus' })).toThrow('unknown name "bogus"');
    const withConstant = await new CompositeReward({ weights: { 'test-words': 1 }, expression: 'pi * test_words' }).scoreAll(batch);
    expect(withConstant.total[0]).toBeCloseTo(2 * Math.PI, 10);
  });

  test('in an expression each name stands for its weighted score, and a weight the expression leaves out is refused', async () => {
    // words = [2, 10, 2], length = [9, 48, 10]: total = (0.5 · words) · (1 + 0.1 · length)
    const composite = new CompositeReward({ weights: { 'test-words': 0.5, 'test-length': 0.1 }, expression: 'test_words * (1 + test_length)' });
    const scores = await composite.scoreAll(batch);
    [1 * 1.9, 5 * 5.8, 1 * 2].forEach((t, i) => expect(scores.total[i]).toBeCloseTo(t, 10));
    expect(scores.components['test-words']).toEqual([2, 10, 2]); // components are logged unweighted
    expect(() => new CompositeReward({ weights: { 'test-words': 1, 'test-length': 0.5 }, expression: '2 * test_words' }))
      .toThrow('weights.test-length: "2 * test_words" does not name test_length, so its weight would be ignored');
  });

  const throwing = defineReward({ name: 'test-throws', score: async () => { throw new Error('judge unreachable'); } });
  const nan = defineReward({ name: 'test-nan', score: async (b) => b.map((_, i) => (i === 1 ? Number.NaN : 1)) });
  const slow = defineReward({ name: 'test-slow', score: (b, { signal }) => new Promise((done, fail) => {
    const timer = setTimeout(() => done(b.map(() => 1)), 5000);
    signal?.addEventListener('abort', () => { clearTimeout(timer); fail(new Error('aborted')); });
  }) });
  for (const r of [throwing, nan, slow]) registerReward(r.name, r);

  test('a throwing module is reported by name: fail stops, skip marks every sample invalid', async () => {
    await expect(new CompositeReward({ weights: { 'test-words': 1, 'test-throws': 1 } }).scoreAll(batch))
      .rejects.toThrow('reward "test-throws" failed: judge unreachable');
    const skipped = await new CompositeReward({ weights: { 'test-words': 1, 'test-throws': 1 }, onError: 'skip' }).scoreAll(batch);
    expect(skipped.valid).toEqual([false, false, false]);
    expect(skipped.total.every(Number.isNaN)).toBe(true);
    expect(skipped.components['test-words']).toEqual([2, 10, 2]);
    expect(skipped.failures).toEqual([{ module: 'test-throws', message: 'reward "test-throws" failed: judge unreachable', samples: [0, 1, 2] }]);
  });

  test('NaN from a module is detected and names the module and sample', async () => {
    await expect(new CompositeReward({ weights: { 'test-nan': 1 } }).scoreAll(batch)).rejects.toThrow('reward "test-nan" gave NaN for sample 1');
    const skipped = await new CompositeReward({ weights: { 'test-nan': 1, 'test-words': 1 }, onError: 'skip' }).scoreAll(batch);
    expect(skipped.valid).toEqual([true, false, true]);
    expect(skipped.total[0]).toBe(3);
    expect(Number.isNaN(skipped.total[1])).toBe(true);
  });

  test('an expression that divides by zero is caught', async () => {
    await expect(new CompositeReward({ weights: {}, expression: 'test_words / (test_words - 2)' }).scoreAll(batch))
      .rejects.toThrow('reward expression gave Infinity for sample 0');
  });

  test('a module that takes too long times out by name and is aborted', async () => {
    const started = Date.now();
    await expect(new CompositeReward({ weights: { 'test-slow': 1 }, timeoutSeconds: 0.2 }).scoreAll(batch))
      .rejects.toThrow('reward "test-slow" failed: timed out after 0.2 s');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

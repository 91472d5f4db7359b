import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateExperiment } from '../../lib/experiment/config';
import { loadRLPrompts, loadSourceExamples } from '../../lib/data/experiment-data';
import { splitExamples } from '../../lib/data/split';

const base = { name: 'p', seed: 3, data: { source: { kind: 'synthetic', task: 'last_letters', size: 200, steps: 2 } } };

describe('RL prompts (rl.prompts)', () => {
  const config = validateExperiment(base);
  const split = splitExamples(loadSourceExamples(config), { seed: 3, testFraction: 0.3 });

  test('train: the train split itself', () => {
    expect(loadRLPrompts(config, split)).toEqual({ prompts: split.train, dropped: 0 });
  });

  test('synthetic: fresh questions of the same task, none in either split, gold answers computed, same every call', () => {
    const synthetic = validateExperiment({ ...base, rl: { prompts: { kind: 'synthetic', size: 300 } } });
    const { prompts, dropped } = loadRLPrompts(synthetic, split);
    const inSplit = new Set([...split.train, ...split.test].map((e) => e.question));
    // 2 words from 50 names: 2,500 questions, so some of 300 draws repeat the split's 200.
    expect(dropped).toBeGreaterThan(0);
    expect(prompts.length + dropped).toBe(300);
    expect(prompts.filter((e) => inSplit.has(e.question))).toEqual([]);
    expect(prompts.every((e) => e.id.startsWith('rl-synthetic-last_letters/'))).toBe(true);
    for (const e of prompts.slice(0, 20)) {
      const words = /"(.+)"/.exec(e.question)![1].split(' ');
      expect(e.answers).toEqual([words.map((w) => w[w.length - 1]).join('')]);
    }
    expect(loadRLPrompts(synthetic, split).prompts).toEqual(prompts);
  });

  test('file: a file\'s questions, those in the test split dropped; a file with nothing left is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rrl-prompts-'));
    const path = join(dir, 'prompts.jsonl');
    const rows = [
      { q: split.test[0].question, a: split.test[0].answers[0] },
      { q: 'Take the last letters of each words in "Abc Xyz" and concatenate them.', a: 'cz' },
      { q: split.train[0].question, a: split.train[0].answers[0] },
    ];
    writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const fromFile = validateExperiment({ ...base, rl: { prompts: { kind: 'file', path, mapping: { question: 'q', answer: 'a' } } } });
    const { prompts, dropped } = loadRLPrompts(fromFile, split);
    expect(dropped).toBe(1);
    expect(prompts.map((e) => [e.question, e.answers[0]])).toEqual([[rows[1].q, 'cz'], [rows[2].q, rows[2].a]]);
    writeFileSync(path, JSON.stringify(rows[0]) + '\n');
    expect(() => loadRLPrompts(fromFile, split)).toThrow('rl.prompts: none of the 1 questions is left once those in the data split are dropped');
  });
});

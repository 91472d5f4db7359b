import { splitExamples } from '../../lib/data/split';
import type { Example } from '../../lib/data/types';

const examples = (n: number, prefix = 'set'): Example[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}/${i}`, question: `q${i}`, answers: ['a'], answerType: 'text' }));

describe('splitExamples', () => {
  it('splits 500 into 350/150, disjoint and complete, each part in input order', () => {
    const all = examples(500);
    const { train, test } = splitExamples(all, { seed: 0 });
    expect([train.length, test.length]).toEqual([350, 150]);
    const ids = new Set([...train, ...test].map((e) => e.id));
    expect(ids.size).toBe(500);
    const position = new Map(all.map((e, i) => [e.id, i]));
    const increasing = (part: Example[]) => part.every((e, i) => i === 0 || position.get(e.id)! > position.get(part[i - 1].id)!);
    expect(increasing(train) && increasing(test)).toBe(true);
  });

  it('is the same for the same seed, different for another, and independent of input order', () => {
    const all = examples(100);
    const testIds = (seed: number, input = all) => splitExamples(input, { seed }).test.map((e) => e.id).sort();
    expect(testIds(7)).toEqual(testIds(7));
    expect(testIds(7)).not.toEqual(testIds(8));
    expect(testIds(7, [...all].reverse())).toEqual(testIds(7));
  });

  it('rounds the test share and honours testFraction', () => {
    expect(splitExamples(examples(10), { seed: 1, testFraction: 0.25 }).test).toHaveLength(3); // round(2.5)
    expect(splitExamples(examples(10), { seed: 1, testFraction: 0 }).test).toHaveLength(0);
  });

  it('keeps a source split when every example has one, unless told not to', () => {
    const all = examples(10).map((e, i) => ({ ...e, metadata: { split: i < 8 ? 'train' : 'test' } }));
    expect(splitExamples(all, { seed: 3 }).test.map((e) => e.id)).toEqual(['set/8', 'set/9']);
    expect(splitExamples(all, { seed: 3, useSourceSplit: false }).test).toHaveLength(3);
    const onlyTest = all.map((e) => ({ ...e, metadata: { split: 'test' } }));
    expect(splitExamples(onlyTest, { seed: 3 }).train).toHaveLength(7); // one split only: split it 70/30
  });

  it('rejects duplicate ids and bad options', () => {
    expect(() => splitExamples([...examples(3), ...examples(1)], { seed: 0 })).toThrow('duplicate example id "set/0"');
    expect(() => splitExamples(examples(3), { seed: 0, testFraction: 1.5 })).toThrow('testFraction must be in [0, 1]');
    expect(() => splitExamples(examples(3), { seed: 0.5 })).toThrow('seed must be an integer');
  });
});

import { generateSyntheticTask, reasoningSteps } from '../../lib/data/synthetic';
import { offlineTeacher } from '../../lib/teacher/offline';

const mix = { wrongStep: 1, skippedStep: 1, repetition: 1, irrelevant: 1 };

describe('generated tasks', () => {
  test('last letters: answer is the concatenated last letters of the quoted words', () => {
    const examples = generateSyntheticTask('last_letters', { size: 50, steps: 3, seed: 7 });
    for (const e of examples) {
      const words = /"([^"]+)"/.exec(e.question)![1].split(' ');
      expect(words).toHaveLength(3);
      expect(e.answers).toEqual([words.map((w) => w[w.length - 1]).join('')]);
    }
  });

  test('coin flip: answer is yes exactly when the number of flips is even', () => {
    for (const e of generateSyntheticTask('coin_flip', { size: 50, steps: 4, seed: 3 })) {
      const flips = (e.question.match(/ flips the coin/g) ?? []).length;
      expect(e.answers[0]).toBe(flips % 2 === 0 ? 'yes' : 'no');
    }
  });

  test('multihop: the gold chain is in the context, marked supporting, with distractors', () => {
    for (const e of generateSyntheticTask('multihop', { size: 20, steps: 3, seed: 1 })) {
      const steps = reasoningSteps(e);
      expect(steps).toHaveLength(3);
      expect(e.answers[0]).toBe(steps[2].value);
      expect(e.context!.filter((p) => p.supporting)).toHaveLength(3);
      expect(e.context!.length).toBe(9);
      for (const s of steps) expect(e.context!.some((p) => p.supporting && p.text.includes(s.subject) && p.text.includes(s.value))).toBe(true);
    }
  });

  test('the same seed gives the same data; another seed does not', () => {
    const a = generateSyntheticTask('last_letters', { size: 20, steps: 2, seed: 1 });
    expect(generateSyntheticTask('last_letters', { size: 20, steps: 2, seed: 1 })).toEqual(a);
    expect(generateSyntheticTask('last_letters', { size: 20, steps: 2, seed: 2 })).not.toEqual(a);
  });
});

describe('offline teacher', () => {
  test('with no errors every rationale is correct and states each step', () => {
    const examples = generateSyntheticTask('last_letters', { size: 30, steps: 2, seed: 4 });
    const records = offlineTeacher(examples, { errorRate: 0, mistakes: mix, samplesPerQuestion: 1, seed: 0 });
    expect(records.every((r) => r.correct)).toBe(true);
    for (const [i, r] of records.entries()) {
      for (const s of reasoningSteps(examples[i])) expect(r.rationale).toContain(`The last letter of "${s.subject}" is "${s.value}".`);
    }
  });

  test('wrong steps make wrong answers; repetition and irrelevant sentences keep them right', () => {
    const examples = generateSyntheticTask('last_letters', { size: 400, steps: 3, seed: 5 });
    const records = offlineTeacher(examples, { errorRate: 1, mistakes: mix, samplesPerQuestion: 1, seed: 9 });
    const byMistake = (m: string) => records.filter((r) => r.metadata?.mistake === m);
    for (const m of ['wrongStep', 'skippedStep', 'repetition', 'irrelevant']) expect(byMistake(m).length).toBeGreaterThan(60);
    expect(byMistake('wrongStep').every((r) => !r.correct)).toBe(true);
    expect(byMistake('skippedStep').every((r) => !r.correct)).toBe(true);
    expect(byMistake('repetition').every((r) => r.correct)).toBe(true);
    expect(byMistake('irrelevant').every((r) => r.correct)).toBe(true);
    for (const r of byMistake('repetition')) {
      const sentences = r.rationale.split(/(?<=\.) /);
      expect(sentences).toHaveLength(3 + 2); // three steps, one written twice, the conclusion
      expect(sentences.some((s, i) => i > 0 && s === sentences[i - 1])).toBe(true);
    }
  });

  test('the error rate is respected', () => {
    const examples = generateSyntheticTask('coin_flip', { size: 1000, steps: 3, seed: 2 });
    const records = offlineTeacher(examples, { errorRate: 0.3, mistakes: mix, samplesPerQuestion: 1, seed: 1 });
    const planted = records.filter((r) => r.metadata?.mistake !== 'none').length / records.length;
    expect(planted).toBeGreaterThan(0.26);
    expect(planted).toBeLessThan(0.34);
  });
});

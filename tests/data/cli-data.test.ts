import { join } from 'node:path';
import { main } from '../../bin/cli';
import { readDataFile } from '../../lib/data/files';

const DATA = join(__dirname, '..', '..', 'data');

/** Runs the CLI in process; returns the exit code, stdout lines and stderr lines. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => { out.push(parts.join(' ')); });
  const error = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => { err.push(parts.join(' ')); });
  try {
    return { code: await main(args), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

/** Records and `teacher_correct: true` records of a recorded-rationale file, counted from its raw lines. */
function rawTeacherCounts(file: string): { records: number; correct: number } {
  const lines = readDataFile(join(DATA, 'zero-shot-cot', 'teacher-rationales', file)).toString('utf8').trim().split('\n');
  return { records: lines.length, correct: lines.filter((l) => /"teacher_correct":\s*true/.test(l)).length };
}

describe('rrl data', () => {
  it('lists every dataset with counts, answer types, recorded teacher and source', async () => {
    const { code, out } = await cli(['data', '--json', '--data-dir', DATA]);
    expect(code).toBe(0);
    const { datasets } = JSON.parse(out) as { datasets: { name: string; available: boolean; questions: number; answerTypes: string[]; splits: Record<string, number>; teacher?: { records: number; correct: number }; source: string }[] };
    const by = Object.fromEntries(datasets.map((d) => [d.name, d]));
    expect(by.last_letters).toMatchObject({ available: true, questions: 500, answerTypes: ['text'], teacher: rawTeacherCounts('last_letters.jsonl') });
    expect(by.commonsenseqa).toMatchObject({ questions: 10962, splits: { train: 9741, test: 1221 }, answerTypes: ['choice'], teacher: rawTeacherCounts('commonsensqa.jsonl') });
    expect(by.gsm8k).toMatchObject({ questions: 1319, splits: { test: 1319 }, answerTypes: ['number'], teacher: rawTeacherCounts('gsm8k.jsonl') });
    expect(by.strategyqa).toMatchObject({ questions: 2290, answerTypes: ['yes-no'], teacher: rawTeacherCounts('strategyqa.jsonl') });
    expect(by.hotpotqa).toMatchObject({ questions: 500, answerTypes: ['text'] });
    expect(by.hotpotqa.teacher).toBeUndefined();
    expect(by.svamp.available).toBe(false);
    expect(rawTeacherCounts('last_letters.jsonl')).toEqual({ records: 500, correct: 288 }); // the data README's table
    expect(by.aqua.source).toMatch(/AQuA-RAT/);
  });

  it('shows one dataset, by alias too, with the example asked for', async () => {
    const { code, out } = await cli(['data', 'aqua_rat', '--example', '3', '--data-dir', DATA]);
    expect(code).toBe(0);
    const raw = JSON.parse(readDataFile(join(DATA, 'zero-shot-cot', 'datasets', 'AQuA', 'test.json')).toString('utf8').split('\n')[3]) as { question: string; correct: string };
    expect(out).toContain(`id        aqua/3`);
    expect(out).toContain(`question  ${raw.question.trim()} Answer Choices: (A) 0.22 (B) 0.26`);
    expect(out).toContain(`answer    ${raw.correct} (choice)`);
    expect(out).toContain('aqua.jsonl: 254 records, 85 correct (33.5%)');
  });

  it('an unknown name exits 2, an example out of range or a set without files exits 1, each saying why', async () => {
    const unknown = await cli(['data', 'imagenet', '--data-dir', DATA]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown dataset "imagenet" (known: singleeq,');
    const range = await cli(['data', 'coin_flip', '--example', '500', '--data-dir', DATA]);
    expect(range.code).toBe(1);
    expect(range.err).toContain('--example 500: coin_flip has examples 0 to 499');
    const absent = await cli(['data', 'svamp', '--data-dir', DATA]);
    expect(absent.code).toBe(1);
    expect(absent.err).toContain('dataset "svamp": no file found');
  });
});

describe('rrl import-rationales', () => {
  it('imports a Zero-shot-CoT log, reports the counts and writes the lines it could not match to a file', async () => {
    const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'rrl-import-cli-'));
    const real = readDataFile(join(DATA, 'zero-shot-cot', 'teacher-rationales', 'coin_flip.jsonl')).toString('utf8').trim().split('\n').slice(0, 3)
      .map((l) => JSON.parse(l) as { question: string; rationale: string; teacher_answer: string; gold: string; teacher_correct: boolean });
    const stray = { question: 'A coin is heads up. Nobody touches it. Is the coin still heads up?', rationale: 'Nobody flips it.', teacher_answer: 'yes', gold: 'yes', teacher_correct: true };
    const block = (r: typeof stray, i: number) => [
      '*************************', `${i + 1}st data`, '1_th_sampling', `Q: ${r.question}`, `A: Let's think step by step. ${r.rationale}`,
      `Therefore, the answer (Yes or No) is ${r.teacher_answer}.`, `pred_before : ${r.teacher_answer}.`, `pred_after : ${r.teacher_answer}`, `pred_list : ['${r.teacher_answer}']`, `pred_mode : ${r.teacher_answer}`, `GT : ${r.gold}`,
    ].join('\n');
    const log = join(dir, 'coin_flip_zero_shot_cot.log');
    writeFileSync(log, `*****************************\nNamespace(cot_trigger="Let's think step by step.", dataset='coin_flip', direct_answer_trigger='\\nTherefore, the answer (Yes or No) is', model='gpt3-xl')\n`
      + [real[0], stray, real[1], real[2]].map(block).join('\n') + '\n');
    const out = join(dir, 'teacher.jsonl');
    const result = await cli(['import-rationales', log, '--out', out, '--data-dir', DATA]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('zero-shot-cot-log: 4 records, 3 matched, 1 unmatched, 0 ambiguous');
    const correct = real.filter((r) => r.teacher_correct).length;
    expect(result.out).toContain(`3 rationales -> ${out} (teacher correct: ${correct},`);
    const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => [r.rationale, r.answer, r.model])).toEqual(real.map((r) => [r.rationale.trim(), r.teacher_answer, 'text-davinci-002']));
    const unmatched = readFileSync(join(dir, 'teacher.unmatched.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const strayLine = readFileSync(log, 'utf8').split('\n').indexOf(`Q: ${stray.question}`) + 1; // its "Q:" line
    expect(strayLine).toBeGreaterThan(10);
    expect(unmatched).toEqual([{ where: `${log}:${strayLine}`, status: 'unmatched', reason: 'question not found among the examples', record: expect.stringContaining('Nobody touches it') }]);
    const none = await cli(['import-rationales', log, '--out', out, '--dataset', 'last_letters', '--data-dir', DATA]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('none of the 4 records matched an example');
  });
});

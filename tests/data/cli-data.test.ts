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

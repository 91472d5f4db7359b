import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAnswer, scoreAnswer } from '../../lib/data/answers';
import { readJsonl } from '../../lib/data/jsonl';
import { loadDataset } from '../../lib/data/datasets';
import { importRationales, importRecordedRationales, questionWithChoices, readRationales, writeRationales } from '../../lib/data/rationales';
import type { Example, RationaleRecord } from '../../lib/data/types';

const DATA_DIR = join(__dirname, '..', '..', 'data');
const TEACHER_DIR = join(DATA_DIR, 'zero-shot-cot', 'teacher-rationales');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-rationales-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('recorded zero-shot-CoT teacher rationales', () => {
  // Teacher accuracy as DESIGN.md gives it (the files' own verdicts), and under this project's scorer, which also
  // accepts float round-off (0.6666666666666667 = 0.6666666666666666) and "n-a-e-y" for "naey" (SQuAD normalisation).
  const expected: Record<string, { size: number; recorded: number; rescored: number }> = {
    last_letters: { size: 500, recorded: 0.576, rescored: 0.592 },
    coin_flip: { size: 500, recorded: 0.914, rescored: 0.914 },
    multiarith: { size: 600, recorded: 0.787, rescored: 0.787 },
    addsub: { size: 395, recorded: 0.701, rescored: 0.714 },
    singleeq: { size: 508, recorded: 0.785, rescored: 0.795 },
    gsm8k: { size: 1319, recorded: 0.411, rescored: 0.411 },
    aqua: { size: 254, recorded: 0.335, rescored: 0.335 },
    commonsensqa: { size: 1221, recorded: 0.646, rescored: 0.646 },
    strategyqa: { size: 2290, recorded: 0.548, rescored: 0.548 },
  };

  it.each(Object.entries(expected))('%s: every record matched to a loaded example, accuracy as published', (file, want) => {
    const examples = loadDataset(file, { dataDir: DATA_DIR });
    const byId = new Map(examples.map((e) => [e.id, e]));
    const records = importRationales(join(TEACHER_DIR, `${file}.jsonl`), { examples });
    expect(records).toHaveLength(want.size);
    expect(new Set(records.map((r) => r.exampleId)).size).toBe(want.size);
    for (const record of records) {
      const example = byId.get(record.exampleId)!;
      expect(example).toBeDefined();
      expect([record.exampleId, scoreAnswer(String(record.metadata!.gold), example)]).toEqual([record.exampleId, 1]); // same gold
    }
    const accuracy = (correct: (r: RationaleRecord) => boolean) => records.filter(correct).length / records.length;
    expect(accuracy((r) => r.metadata!.recordedCorrect === true)).toBeCloseTo(want.recorded, 3);
    expect(accuracy((r) => r.correct)).toBeCloseTo(want.rescored, 3);
    expect(records.every((r) => r.strategy === 'zero-shot-cot' && r.model === 'text-davinci-002')).toBe(true);
  });

  it('maps a shuffled record back to the loader id by its question (last_letters, first record)', () => {
    const [first] = importRationales(join(TEACHER_DIR, 'last_letters.jsonl'), { dataDir: DATA_DIR });
    const example = loadDataset('last_letters', { dataDir: DATA_DIR }).find((e) => e.id === first.exampleId)!;
    expect(example.question).toBe('Take the last letters of each words in "Jeff Jen Giselle Noel" and concatenate them.');
    expect(first).toMatchObject({ answer: 'fnenl', correct: false, metadata: { index: 0, gold: 'fnel', answerTrigger: 'Therefore, the answer is' } });
    expect(first.rationale).toMatch(/^The last letter of "Jeff" is "f"\.\n/);
  });

  it('parseAnswer recovers the logged answer from rationales that already hold the answer sentence', () => {
    // Records with an empty answer_trigger carry the teacher's "Therefore, the answer ... is X" inside the
    // rationale; the logged teacher_answer is what zero-shot-CoT parsed from it.
    const agreement: Record<string, string> = {};
    for (const file of ['addsub', 'aqua', 'coin_flip', 'commonsensqa', 'gsm8k', 'multiarith', 'singleeq', 'strategyqa']) {
      const path = join(TEACHER_DIR, `${file}.jsonl`);
      const raw = readJsonl(path) as { answer_trigger: string; rationale: string; teacher_answer: string }[];
      const loaded = loadDataset(file, { dataDir: DATA_DIR });
      const records = importRationales(path, { examples: loaded });
      const examples = new Map(loaded.map((e) => [e.id, e]));
      let total = 0;
      let same = 0;
      raw.forEach((line, i) => {
        if (line.answer_trigger !== '') return;
        const example = examples.get(records[i].exampleId)!;
        total++;
        if (parseAnswer(line.rationale, example.answerType, { choices: example.choices }) === line.teacher_answer) same++;
      });
      agreement[file] = `${same}/${total}`;
    }
    expect(agreement).toEqual({
      addsub: '21/21', aqua: '47/47', coin_flip: '13/13', commonsensqa: '4/4',
      gsm8k: '234/236', multiarith: '47/47', singleeq: '41/41', strategyqa: '190/193',
    });
  });

  it('names file and line of a question the dataset does not have; a file with no match at all is an error', () => {
    const path = join(dir, 'stray.jsonl');
    writeFileSync(path, JSON.stringify({ dataset: 'coin_flip', index: 0, question: 'A coin is heads up. Nobody is here.', rationale: 'r', teacher_answer: 'yes' }) + '\n');
    expect(() => importRationales(path, { dataDir: DATA_DIR })).toThrow(`${path}: none of the 1 records matched an example; first: ${path}:1: question not found among the examples`);
  });
});

describe('zero-shot-CoT matching on a held-out file', () => {
  it('matches questions with their "Answer Choices" suffix regardless of spacing, repeated questions in order', () => {
    const examples: Example[] = [
      { id: 'toy/0', question: 'What is 2 + 2?', answers: ['4'], answerType: 'number' },
      { id: 'toy/1', question: 'What is 2 + 2?', answers: ['4'], answerType: 'number' },
      { id: 'toy/2', question: 'Which (is) heavier?', answers: ['B'], answerType: 'choice', choices: [{ label: 'A', text: 'feather' }, { label: 'B', text: 'lead (metal)' }] },
    ];
    expect(questionWithChoices(examples[2])).toBe('Which (is) heavier? Answer Choices: (A) feather (B) lead (metal)');
    const path = join(dir, 'toy.jsonl');
    const lines = [
      { dataset: 'toy', index: 0, question: 'Which (is) heavier? Answer Choices: (A) feather (B) lead ( metal) ', rationale: ' Lead is dense. ', answer_trigger: 'x', teacher_answer: 'B', gold: 'B', teacher_correct: true },
      { dataset: 'toy', index: 1, question: 'What is 2 + 2?', rationale: '2 and 2 make 4.', teacher_answer: '4.0', gold: '4', teacher_correct: false },
      { dataset: 'toy', index: 2, question: 'What  is 2 + 2?', rationale: 'It is 5.', teacher_answer: '5', gold: '4', teacher_correct: false },
    ];
    writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const records = importRationales(path, { examples });
    expect(records.map((r) => [r.exampleId, r.answer, r.correct, r.rationale])).toEqual([
      ['toy/2', 'B', true, 'Lead is dense.'],
      ['toy/0', '4.0', true, '2 and 2 make 4.'], // rescored: 4.0 = 4, the file said false
      ['toy/1', '5', false, 'It is 5.'],
    ]);
  });
});

describe('general JSONL rationales and the RationaleRecord file', () => {
  const records: RationaleRecord[] = [
    { exampleId: 'toy/0', rationale: 'Two and two.', answer: '4', correct: true, strategy: 'few-shot-cot', model: 'm1' },
    { exampleId: 'toy/1', rationale: 'Guess.', answer: '5', correct: false, strategy: 'diverse', model: 'm1', metadata: { sample: 2 } },
  ];

  it('imports mapped fields, rescoring against given examples', () => {
    const path = join(dir, 'mine.jsonl');
    writeFileSync(path, [
      { qid: 'toy/0', out: { cot: 'Two and two.', pred: 4 } },
      { qid: 'toy/1', out: { cot: 'Guess.', pred: '4' }, by: 'm2' },
    ].map((l) => JSON.stringify(l)).join('\n'));
    const examples: Example[] = [0, 1].map((i) => ({ id: `toy/${i}`, question: 'q', answers: ['4'], answerType: 'number' }));
    const imported = importRationales(path, { format: 'jsonl', examples, mapping: { exampleId: 'qid', rationale: 'out.cot', answer: 'out.pred', model: 'by' }, strategy: 'few-shot-cot' });
    expect(imported).toEqual([
      { exampleId: 'toy/0', rationale: 'Two and two.', answer: '4', correct: true, strategy: 'few-shot-cot', model: 'unknown' },
      { exampleId: 'toy/1', rationale: 'Guess.', answer: '4', correct: true, strategy: 'few-shot-cot', model: 'm2' },
    ]);
    expect(() => importRationales(path, { format: 'jsonl', mapping: { exampleId: 'qid', rationale: 'out.cot', answer: 'out.pred' } }))
      .toThrow(`${path}:1: no examples to match against (give examples or a dataset), and no "correct" field`);
    const partial = importRecordedRationales(path, { format: 'jsonl', examples: examples.slice(1), mapping: { exampleId: 'qid', rationale: 'out.cot', answer: 'out.pred' } });
    expect(partial.records.map((r) => r.exampleId)).toEqual(['toy/1']);
    expect(partial.report).toMatchObject({ total: 2, matched: 1, unmatched: 1, ambiguous: 0 });
    expect(partial.report.problems[0]).toMatchObject({ where: `${path}:1`, reason: 'example id "toy/0" is not among the examples' });
  });

  it('round-trips RationaleRecords through a file, and the project format imports as is', () => {
    const path = join(dir, 'records.jsonl');
    writeRationales(path, records);
    expect(readRationales(path)).toEqual(records);
    expect(importRationales(path, { format: 'jsonl' })).toEqual(records.map(({ metadata: _, ...rest }) => rest));
  });

  it('appends, survives a crash mid-line with a warning, and keeps appending cleanly', () => {
    const path = join(dir, 'run.jsonl');
    writeRationales(path, [records[0]], { append: true });
    appendFileSync(path, JSON.stringify(records[1]).slice(0, 25)); // the process died here
    const warnings: string[] = [];
    expect(readRationales(path, { onWarning: (m) => warnings.push(m) })).toEqual([records[0]]);
    expect(warnings[0]).toMatch(/run\.jsonl:2: dropped an incomplete last line/);
    writeRationales(path, [records[1]], { append: true, onWarning: (m) => warnings.push(m) });
    expect(readRationales(path)).toEqual(records);
    expect(warnings[1]).toMatch(/cut 25 bytes/);
  });

  it('a malformed record names file and line and field', () => {
    const path = join(dir, 'bad-records.jsonl');
    writeFileSync(path, JSON.stringify(records[0]) + '\n' + JSON.stringify({ ...records[1], correct: 'no' }) + '\n');
    expect(() => readRationales(path)).toThrow(`${path}:2: field "correct" must be true or false`);
    expect(() => writeRationales(path, [{ ...records[0], answer: 3 as never }])).toThrow('field "answer" must be a string');
  });
});

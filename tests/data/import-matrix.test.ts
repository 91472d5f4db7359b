import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../lib/data/datasets';
import { readJsonl } from '../../lib/data/jsonl';
import { importRecordedRationales, questionWithChoices } from '../../lib/data/rationales';
import type { Choice, Example } from '../../lib/data/types';

/**
 * Recorded rationales in every record style (zero-shot-CoT JSONL, Zero-shot-CoT logs, Fine-tune-CoT completion
 * files, plain question/rationale JSONL) for every multiple-choice format (AQuA, CommonsenseQA, BIG-bench Date
 * Understanding and Tracking Shuffled Objects), with the options recorded in the project's order and in another
 * order: every record matches, and the imported teacher accuracy equals the recorded predictions' accuracy.
 */

const DATA = join(__dirname, '..', '..', 'data');
const LETTERS = 'ABCDEFGHIJ';

/** One recorded teacher output: the options in the recorded order, the predicted and gold letters in that order. */
interface Recorded {
  stem: string;
  options: Choice[];
  pred: string;
  gold: string;
  rationale: string;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-import-matrix-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const squash = (text: string) => text.replace(/\s+/g, '');

/** The first `n` recorded GPT-3 rationales of a real teacher file, joined to their examples by the exact prompt text. */
function realRecorded(file: string, examples: Example[], n: number): { items: Recorded[]; recordedAccuracy: number } {
  const byPrompt = new Map(examples.map((e) => [squash(questionWithChoices(e)), e]));
  const lines = (readJsonl(join(DATA, 'zero-shot-cot', 'teacher-rationales', file)) as { question: string; rationale: string; teacher_answer: string; gold: string; teacher_correct: boolean }[]).slice(0, n);
  const items = lines.map((line) => {
    const example = byPrompt.get(squash(line.question))!;
    expect(example).toBeDefined();
    return { stem: example.question, options: example.choices!, pred: line.teacher_answer, gold: line.gold, rationale: line.rationale };
  });
  return { items, recordedAccuracy: lines.filter((l) => l.teacher_correct).length / lines.length };
}

/** The same records with the options listed in reverse, letters (prediction, gold, "(X)" in the rationale) moved with them. */
function reversed(items: Recorded[]): Recorded[] {
  return items.map((item) => {
    const n = item.options.length;
    const move = (letter: string) => (LETTERS.indexOf(letter) >= 0 && LETTERS.indexOf(letter) < n ? LETTERS[n - 1 - LETTERS.indexOf(letter)] : letter);
    return {
      stem: item.stem,
      options: [...item.options].reverse().map((o, i) => ({ label: LETTERS[i], text: o.text })),
      pred: move(item.pred),
      gold: move(item.gold),
      rationale: item.rationale.replace(/\(([A-J])\)/g, (_, l: string) => `(${move(l)})`),
    };
  });
}

const accuracyOf = (items: Recorded[]) => items.filter((i) => i.pred === i.gold).length / items.length;
const choicesText = (options: Choice[], comma = false) => options.map((o) => `(${o.label}) ${o.text}`).join(comma ? ', ' : ' ');

/** Record styles: each writes the records as that source does and returns the file. */
const STYLES: Record<string, (items: Recorded[], dataset: string, cue: string) => string> = {
  'zero-shot-cot JSONL': (items, dataset, cue) => write(`${dataset}-zs.jsonl`, items.map((item, index) => JSON.stringify({
    dataset, index, question: `${item.stem}${cue} Answer Choices: ${choicesText(item.options)}`, rationale: item.rationale,
    answer_trigger: 'Therefore, among A through E, the answer is', teacher_answer: item.pred, gold: item.gold, teacher_correct: item.pred === item.gold,
  })).join('\n') + '\n'),
  'Zero-shot-CoT log': (items, dataset, cue) => write(`${dataset}.log`, [
    '*****************************',
    `Namespace(api_log_file_name=None, cot_trigger="Let's think step by step.", dataset='${dataset}', direct_answer_trigger='\\nTherefore, among A through F, the answer is', method='zero_shot_cot', model='gpt3-xl')`,
    '*****************************',
    ...items.map((item, i) => [
      '*************************', `${i + 1}st data`, '1_th_sampling',
      `Q: ${item.stem}${cue} Answer Choices: ${choicesText(item.options)}`,
      `A: Let's think step by step. ${item.rationale}`,
      `Therefore, among A through F, the answer is ${item.pred}.`,
      `pred_before :  ${item.pred}.`, `pred_after : ${item.pred}`, `pred_list : ['${item.pred}']`, `pred_mode : ${item.pred}`, `GT : ${item.gold}`,
      '*************************',
    ].join('\n')),
  ].join('\n') + '\n'),
  'Fine-tune-CoT completions': (items, dataset, cue) => {
    const data = Object.fromEntries(items.map((item, i) => {
      const question = `${item.stem}${cue ? '\nWhich choice is true?' : ''} Answer choices: ${choicesText(item.options, true)}.`;
      const option = item.options.find((o) => o.label === item.pred);
      return [String(i), [{
        sample_index: i, completion_index: 0, question, answer: item.gold,
        reasoning_prompt: `Q: ${question}\nA: Let's think step by step.`, reasoning_completion: ` ${item.rationale}`,
        prompt: `Q: ${question}\nA: Let's think step by step. ${item.rationale}\nTherefore, the answer is`,
        completion: option ? ` (${option.label}) ${option.text}.` : ' none of them.',
      }]];
    }));
    return write(`${dataset}-ftcot.json`, JSON.stringify({ metadata: { base_model: 'text-davinci-002', dataset_key: dataset, completion_key: 'zs_cot', train_key: null, epoch: null }, data }, null, 4));
  },
  'plain question/rationale JSONL': (items, dataset, cue) => write(`${dataset}-plain.jsonl`, items.map((item) => JSON.stringify({
    // A prompt wrapper and the answer as the option's text, not its letter.
    question: `Q: ${item.stem}${cue}\nAnswer Choices: ${choicesText(item.options)}\nA:`,
    rationale: item.rationale,
    answer: item.options.find((o) => o.label === item.pred)?.text ?? '',
  })).join('\n') + '\n'),
};

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Imports `items` in every style, in the recorded order given and reversed, and checks the outcome. */
function checkAllStyles(dataset: string, examples: Example[], items: Recorded[], cue = '') {
  for (const [order, recorded] of [['as given', items], ['reversed', reversed(items)]] as const) {
    for (const [style, render] of Object.entries(STYLES)) {
      const path = render(recorded, dataset, cue);
      const { records, report } = importRecordedRationales(path, { examples, dataset });
      const label = `${dataset} / ${style} / options ${order}`;
      expect([label, report.matched, report.unmatched, report.ambiguous]).toEqual([label, recorded.length, 0, 0]);
      const accuracy = records.filter((r) => r.correct).length / records.length;
      expect([label, accuracy]).toEqual([label, accuracyOf(recorded)]);
      const byId = new Map(examples.map((e) => [e.id, e]));
      records.forEach((record, i) => {
        // The imported answer names the option the recorded letter named, in the example's own letters.
        const example = byId.get(record.exampleId)!;
        const recordedText = recorded[i].options.find((o) => o.label === recorded[i].pred)?.text;
        const importedText = example.choices!.find((c) => c.label === record.answer)?.text;
        expect([label, i, importedText]).toEqual([label, i, recordedText]);
        expect(squash(example.question)).toBe(squash(recorded[i].stem));
        // Letters in parentheses in the rationale name the same options as in the recording.
        const recordedLetters = [...recorded[i].rationale.matchAll(/\(([A-J])\)/g)].map((m) => recorded[i].options.find((o) => o.label === m[1])?.text);
        const importedLetters = [...record.rationale.matchAll(/\(([A-J])\)/g)].map((m) => example.choices!.find((c) => c.label === m[1])?.text);
        expect([label, i, importedLetters]).toEqual([label, i, recordedLetters]);
      });
    }
  }
}

/** Ten Date Understanding records of Zero-shot-CoT's GPT-3 log (`log/date_understanding_zero_shot_cot.log`), options in the log's order. */
const DATE_RECORDS: Recorded[] = ([
  ['It was Sept. 1st, 2021 a week ago. What is the date today in MM/DD/YYYY?', '09/22/2021|09/09/2021|09/08/2006|09/08/2021|09/07/2021|08/11/2021', 'D', 'D', 'A week ago was Sept. 1st, 2021. 7 days later would be Sept. 8th, 2021. Therefore, the answer is (D).'],
  ['May 6, 1992 is like yesterday to Jane, but that is actually ten years ago. What is the date 10 days ago in MM/DD/YYYY?', '08/26/2001|04/26/2007|05/01/2002|04/25/2002|04/18/2002|04/26/2002', 'D', 'F', 'Jane says that May 6, 1992 is like yesterday. That means that today is May 6, 2002. 10 days ago would be April 26, 2002.'],
  ['Today is the palindrome day of 2020, because the MMDDYYYY format of the date is the same backwards as forwards. What is the date 10 days ago in MM/DD/YYYY?', '01/23/2011|01/23/2078|01/22/2020|03/23/2020|01/23/2020', 'C', 'E', 'The date today is 02/02/2020. To get the date 10 days ago, we need to subtract 10 from 02/02/2020. This gives us 01/22/2020. Therefore, the answer is C.'],
  ["Today is 3/5, and it is Jane's second time in the year 1973 to see a meteor shower. What is the date a month ago in MM/DD/YYYY?", '03/05/2007|01/02/1973|03/08/1983|03/05/1973|02/05/1973|04/05/1973', 'E', 'E', 'The question is asking for the date a month ago from 03/05/1973. A month ago would be 02/05/1973.'],
  ['Jane thinks today is 6/18/2019, but John thinks today is 6/19/2019. John is correct. What is the date tomorrow in MM/DD/YYYY?', '06/20/2019|06/25/2019|12/20/2018|06/10/2019|02/20/2019', 'A', 'A', 'Jane thinks today is 6/18/2019. John thinks today is 6/19/2019. John is correct. Therefore, tomorrow is 6/20/2019.'],
  ['Today is the first day of 2007. What is the date one week ago from today in MM/DD/YYYY?', '12/25/1945|06/25/2006|12/25/2016|03/05/2007|12/25/2006|12/24/2006', 'F', 'E', 'One week ago today would be December 25, 2006. Therefore, the answer is (F).'],
  ['The deadline is Jun 1, 2021, which is 2 days away from now. What is the date 24 hours later in MM/DD/YYYY?', '06/02/2021|05/31/2021|06/16/2021|05/31/1966|08/18/2021|05/31/1941', 'A', 'B', 'The deadline is Jun 1, 2021, which is 2 days away from now. In 24 hours, it will be Jun 2, 2021.'],
  ['Today is Sep 9, 1909. What is the date tomorrow in MM/DD/YYYY?', '12/10/1908|09/10/1909|09/11/1909|07/03/1909|09/09/1909|12/14/1909', 'B', 'B', 'Today is September 9, 1909. Therefore, tomorrow is Thursday, September 10, 1909. The answer is B.'],
  ['Tomorrow is 11/12/2019. What is the date one week from today in MM/DD/YYYY?', '11/18/2011|11/04/2019|02/18/2020|08/21/2019|11/18/2025|11/18/2019', 'F', 'F', 'One week from today would be 11/19/2019.'],
  ['Jane is celebrating the last day of Jan 2012. What is the date one week ago from today in MM/DD/YYYY?', '01/22/2012|02/06/2012|01/24/1947|01/24/2012|08/24/2011|01/24/1923', 'A', 'D', 'Today is January 24, 2012. One week ago would be January 17, 2012. Therefore, the answer is (A).'],
] as const).map(([stem, options, pred, gold, rationale]) => ({ stem, options: options.split('|').map((text, i) => ({ label: LETTERS[i], text })), pred, gold, rationale }));

/** Six Tracking Shuffled Objects questions as Fine-tune-CoT's dataset file gives them (gold letters from it); predictions made up, two wrong. */
function trackingRecords(): Recorded[] {
  const games = [
    { start: 'Alice has a orange ball, Bob has a white ball, and Claire has a blue ball', swaps: 'First, Alice and Bob swap balls. Then, Bob and Claire swap balls. Finally, Alice and Bob swap balls.', balls: ['orange ball', 'white ball', 'blue ball'], gold: { Alice: 'C', Bob: 'B', Claire: 'A' } },
    { start: 'Alice has a black ball, Bob has a brown ball, and Claire has a blue ball', swaps: 'First, Bob and Claire swap balls. Then, Alice and Bob swap balls. Finally, Claire and Bob swap balls.', balls: ['black ball', 'brown ball', 'blue ball'], gold: { Alice: 'C', Bob: 'B', Claire: 'A' } },
  ];
  return games.flatMap((game) => (['Alice', 'Bob', 'Claire'] as const).map((who, i) => {
    const gold = game.gold[who];
    const pred = i === 2 ? LETTERS[(LETTERS.indexOf(gold) + 1) % 3] : gold;
    return {
      stem: `Alice, Bob, and Claire are playing a game. At the start of the game, they are each holding a ball: ${game.start}. \n\nAs the game progresses, pairs of players trade balls. ${game.swaps} At the end of the game, ${who} has the`,
      options: game.balls.map((text, j) => ({ label: LETTERS[j], text })),
      pred, gold, rationale: `Following the swaps, ${who} ends with option (${pred}).`,
    };
  }));
}

/** A BIG-bench task file for the records: each input with its options, the right one listed first as BIG-bench does. */
function bigBenchTask(root: string, path: string, items: Recorded[]): void {
  const examples = items.map((item) => {
    const right = item.options.find((o) => o.label === item.gold)!;
    const scores = Object.fromEntries([right, ...item.options.filter((o) => o !== right)].map((o) => [o.text, o === right ? 1 : 0]));
    return { input: item.stem, target_scores: scores };
  });
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), JSON.stringify({ name: 'fixture', examples }));
}

describe('importing recorded rationales: every record style x every multiple-choice format', () => {
  it('AQuA (real GPT-3 records)', () => {
    const examples = loadDataset('aqua', { dataDir: DATA });
    const { items, recordedAccuracy } = realRecorded('aqua.jsonl', examples, 40);
    expect(accuracyOf(items)).toBe(recordedAccuracy); // the file's verdicts are its letters compared
    checkAllStyles('aqua', examples, items);
  });

  it('CommonsenseQA (real GPT-3 records)', () => {
    const examples = loadDataset('commonsenseqa', { dataDir: DATA });
    const { items, recordedAccuracy } = realRecorded('commonsensqa.jsonl', examples, 40);
    expect(accuracyOf(items)).toBe(recordedAccuracy);
    checkAllStyles('commonsensqa', examples, items);
  });

  it('Date Understanding (records of the GPT-3 log; the project shuffles the options its own way)', () => {
    const root = join(dir, 'date-data');
    bigBenchTask(root, 'Bigbench_Date/task.json', DATE_RECORDS);
    const examples = loadDataset('date_understanding', { dataDir: root });
    // The project's own deterministic shuffle puts options elsewhere than the log did for most questions.
    const moved = DATE_RECORDS.filter((item, i) => examples[i].choices!.map((c) => c.text).join('|') !== item.options.map((o) => o.text).join('|'));
    expect(moved.length).toBeGreaterThanOrEqual(8);
    expect(accuracyOf(DATE_RECORDS)).toBe(0.5); // 5 of the 10 logged predictions equal GT
    checkAllStyles('bigbench_date', examples, DATE_RECORDS);
    // Scoring the recorded letters against the project's letters instead would be wrong.
    const byLetter = DATE_RECORDS.filter((item, i) => examples[i].answers[0] === item.pred).length / DATE_RECORDS.length;
    expect(byLetter).not.toBe(0.5);
  });

  it('Tracking Shuffled Objects (Fine-tune-CoT questions, with the BIG-bench cue "Which choice is true ?")', () => {
    const root = join(dir, 'tracking-data');
    const items = trackingRecords();
    bigBenchTask(root, 'Bigbench_object_tracking/task.json', items);
    const examples = loadDataset('tracking_shuffled_objects', { dataDir: root });
    expect(accuracyOf(items)).toBeCloseTo(4 / 6, 10);
    checkAllStyles('shuffled_objects', examples, items, ' Which choice is true ?');
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAnswer, scoreAnswer } from '../../lib/data/answers';
import { DATASET_NAMES, canonicalDatasetName, loadDataset } from '../../lib/data/datasets';
import { loadDatasetFile } from '../../lib/data/sources';
import { splitExamples } from '../../lib/data/split';

const DATA_DIR = join(__dirname, '..', '..', 'data');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-loaders-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(relative: string, content: unknown, jsonl = false): string {
  const path = join(dir, relative);
  mkdirSync(dirname(path), { recursive: true });
  const text = jsonl ? (content as unknown[]).map((v) => JSON.stringify(v)).join('\n') + '\n' : JSON.stringify(content, null, 1);
  writeFileSync(path, text);
  return path;
}

describe('real files in data/', () => {
  it('loads every Fine-tune-CoT set present, with counts, 70/30 splits and answer types', () => {
    const expected: Record<string, [number, number, number, string]> = {
      singleeq: [508, 356, 152, 'number'],
      addsub: [395, 276, 119, 'number'],
      multiarith: [600, 420, 180, 'number'],
      gsm8k: [1319, 923, 396, 'number'],
      aqua: [254, 178, 76, 'choice'],
      last_letters: [500, 350, 150, 'text'],
      coin_flip: [500, 350, 150, 'yes-no'],
      strategyqa: [2290, 1603, 687, 'yes-no'],
      commonsenseqa: [10962, 9741, 1221, 'choice'], // the source's own train / dev split is kept
    };
    for (const [name, [total, train, test, answerType]] of Object.entries(expected)) {
      const examples = loadDataset(name, { dataDir: DATA_DIR });
      const split = splitExamples(examples, { seed: 0 });
      expect([name, examples.length, split.train.length, split.test.length]).toEqual([name, total, train, test]);
      expect(new Set(examples.map((e) => e.answerType))).toEqual(new Set([answerType]));
      expect(new Set(examples.map((e) => e.id)).size).toBe(total);
    }
  });

  it('reads the first record of each set field by field', () => {
    const first = (name: string) => loadDataset(name, { dataDir: DATA_DIR })[0];
    expect(first('last_letters')).toEqual({
      id: 'last_letters/0',
      question: 'Take the last letters of each words in "Whitney Erika Tj Benito" and concatenate them.',
      answers: ['yajo'],
      answerType: 'text',
      dataset: 'last_letters',
    });
    expect(first('coin_flip')).toMatchObject({ id: 'coin_flip/0', answers: ['yes'], answerType: 'yes-no' });
    expect(first('singleeq')).toMatchObject({
      id: 'singleeq/0',
      question: expect.stringMatching(/^Joan found 70 seashells on the beach\. .* give to Sam \?$/),
      answers: ['43'],
      metadata: { equations: ['70-x=27'] },
    });
    expect(first('addsub')).toMatchObject({ id: 'addsub/0', answers: ['43'], metadata: { equations: ['X = 70 - 27'], sourceIndex: 1 } });
    expect(first('multiarith')).toMatchObject({ question: expect.stringMatching(/^For Halloween Debby/), answers: ['39'] });
    const gsm8k = first('gsm8k');
    expect(gsm8k).toMatchObject({ id: 'gsm8k/test/0', answers: ['18'], metadata: { split: 'test' } });
    expect(gsm8k.question).toMatch(/^Janet’s ducks lay 16 eggs per day\./);
    expect(gsm8k.metadata!.solution).toMatch(/<<9\*2=18>>18 every day at the farmer’s market\.$/);
    const aqua = first('aqua');
    expect(aqua.answers).toEqual(['A']);
    expect(aqua.choices).toEqual([
      { label: 'A', text: '5(√3 + 1)' },
      { label: 'B', text: '6(√3 + √2)' },
      { label: 'C', text: '7(√3 – 1)' },
      { label: 'D', text: '8(√3 – 2)' },
      { label: 'E', text: 'None of these' },
    ]);
    const strategy = first('strategyqa');
    expect(strategy).toMatchObject({ id: 'strategyqa/0', question: 'Is it common to see frost during some college commencements?', answers: ['yes'] });
    expect(strategy.metadata!.explanation).toMatch(/^Yes\. College commencement ceremonies/);
  });

  it('keeps CommonsenseQA ids and choices', () => {
    const csqa = loadDataset('commonsensqa', { dataDir: DATA_DIR }); // the zero-shot-CoT spelling is an alias
    const dev = csqa.find((e) => e.id === 'commonsenseqa/1afa02df02c908a558b4036e80242fac')!;
    expect(dev).toMatchObject({
      question: 'A revolving door is convenient for two direction travel, but it also serves as a security measure at a what?',
      answers: ['A'],
      metadata: { split: 'test', concept: 'revolving door' },
    });
    expect(dev.choices!.map((c) => c.text)).toEqual(['bank', 'library', 'department store', 'mall', 'new york']);
  });

  it('loads HotpotQA in the IRCoT format: 500 questions, paragraphs with supporting flags', () => {
    const hotpot = loadDataset('hotpotqa', { dataDir: DATA_DIR });
    expect(hotpot).toHaveLength(500);
    const sizes = new Map<number, number>();
    for (const e of hotpot) sizes.set(e.context!.length, (sizes.get(e.context!.length) ?? 0) + 1);
    expect(Object.fromEntries(sizes)).toEqual({ 10: 489, 2: 7, 8: 2, 5: 1, 6: 1 });
    expect(hotpot.every((e) => e.context!.filter((p) => p.supporting).length === 2)).toBe(true);
    const first = hotpot[0];
    expect(first).toMatchObject({
      id: 'hotpotqa/5a8c7595554299585d9e36b6',
      question: 'What government position was held by the woman who portrayed Corliss Archer in the film Kiss and Tell?',
      answers: ['Chief of Protocol'],
      answerType: 'text',
    });
    expect(first.context![1]).toMatchObject({ title: 'Shirley Temple', supporting: true });
    expect(first.context![1].text).toMatch(/^Shirley Temple Black \(April 23, 1928/);
    expect(splitExamples(hotpot, { seed: 1 }).test).toHaveLength(150);
  });

  it('loads HotpotQA in its original format, sentences joined and supporting titles marked', () => {
    const train = loadDatasetFile(join(DATA_DIR, 'hotpotqa', 'train_100_original.json'), 'hotpotqa', { dataset: 'hotpotqa' });
    expect(train).toHaveLength(100);
    const first = train[0];
    expect(first).toMatchObject({
      id: 'hotpotqa/5a77ec115542992a6e59dff7',
      question: 'If Gallu is a demon Lilu is what?',
      answers: ['a spirit'],
      metadata: { type: 'bridge', level: 'easy', supportingFacts: [{ title: 'Alû', sentence: 3 }, { title: 'Lilu (mythology)', sentence: 0 }] },
    });
    expect(first.context![0].title).toBe('Demon Dice');
    expect(first.context![0].text).toMatch(/and Tim Brown\. In it, each player controls a demon/);
    expect(first.context!.filter((p) => p.supporting).map((p) => p.title).sort()).toEqual(['Alû', 'Lilu (mythology)']);
  });

  it('names the datasets it cannot find and the paths it tried', () => {
    expect(() => loadDataset('svamp', { dataDir: DATA_DIR })).toThrow(/dataset "svamp": no file found .*SVAMP\/SVAMP\.json/);
    expect(() => loadDataset('imagenet', { dataDir: DATA_DIR })).toThrow(/unknown dataset "imagenet" \(known: singleeq, /);
  });
});

describe('held-out files in each source format', () => {
  it('names: twelve Fine-tune-CoT sets plus two multi-hop sets, aliases resolve', () => {
    expect(DATASET_NAMES).toHaveLength(14);
    expect(canonicalDatasetName('Object_Tracking')).toBe('tracking_shuffled_objects');
    expect(canonicalDatasetName('bigbench_date')).toBe('date_understanding');
  });

  it('SVAMP: Body + Question, numeric Answer, its own ID', () => {
    const root = join(dir, 'svamp-data');
    write('svamp-data/SVAMP/SVAMP.json', [
      { ID: 'chal-1', Body: 'Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each pack', Question: 'How much do you have to pay to buy each pack?', Equation: '( 76.0 - 25.0 )', Answer: 51.0, Type: 'Subtraction' },
      { ID: 'chal-2', Body: 'Dan had $ 3 left with him after he bought a candy bar.', Question: ' If he had $ 4 at the start, how much did the candy bar cost? ', Equation: '( 4.0 - 3.0 )', Answer: 1.0, Type: 'Subtraction' },
    ]);
    const svamp = loadDataset('svamp', { dataDir: root });
    expect(svamp.map((e) => [e.id, e.answers[0], e.answerType])).toEqual([['svamp/chal-1', '51', 'number'], ['svamp/chal-2', '1', 'number']]);
    expect(svamp[1].question).toBe('Dan had $ 3 left with him after he bought a candy bar. If he had $ 4 at the start, how much did the candy bar cost?');
    expect(svamp[0].metadata).toEqual({ equation: '( 76.0 - 25.0 )', type: 'Subtraction' });
  });

  it('BIG-bench Date Understanding: lettered options, shuffled by seed so the answer is not always A', () => {
    const root = join(dir, 'date-data');
    const examples = Array.from({ length: 12 }, (_, i) => ({
      input: `Today is 0${(i % 9) + 1}/01/2020. What is the date tomorrow in MM/DD/YYYY?`,
      target_scores: { [`0${(i % 9) + 1}/02/2020`]: 1, '12/31/2019': 0, '01/08/2020': 0, '02/02/2019': 0, '03/01/2021': 0, '11/11/2011': 0 },
    }));
    write('date-data/Bigbench_Date/task.json', { name: 'date_understanding', examples });
    const dates = loadDataset('date_understanding', { dataDir: root });
    expect(dates).toHaveLength(12);
    for (const [i, e] of dates.entries()) {
      expect(e.answerType).toBe('choice');
      expect(e.choices!.map((c) => c.label)).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
      expect(e.choices!.find((c) => c.label === e.answers[0])!.text).toBe(`0${(i % 9) + 1}/02/2020`);
    }
    expect(new Set(dates.map((e) => e.answers[0])).size).toBeGreaterThan(2);
    expect(loadDataset('date_understanding', { dataDir: root })).toEqual(dates); // deterministic
  });

  it('BIG-bench Tracking Shuffled Objects (three_objects layout): options keep their order', () => {
    const root = join(dir, 'tracking-data');
    write('tracking-data/tracking_shuffled_objects/three_objects/task.json', {
      examples: [{
        input: 'Alice, Bob, and Claire are playing a game. Alice has a red ball, Bob has a blue ball, and Claire has a green ball. First, Alice and Bob swap balls. At the end of the game, Alice has the',
        target_scores: { 'red ball.': 0, 'blue ball.': 1, 'green ball.': 0 },
      }],
    });
    const [tracking] = loadDataset('object_tracking', { dataDir: root });
    expect(tracking).toMatchObject({ id: 'tracking_shuffled_objects/0', answers: ['B'], answerType: 'choice' });
    expect(tracking.choices).toEqual([{ label: 'A', text: 'red ball.' }, { label: 'B', text: 'blue ball.' }, { label: 'C', text: 'green ball.' }]);
    expect(scoreAnswer(parseAnswer('Therefore, among A through C, the answer is (B).', 'choice', { choices: tracking.choices }), tracking)).toBe(1);
  });

  it('2WikiMultiHopQA original JSON: context, supporting facts, evidences, type', () => {
    const root = join(dir, 'wiki-data');
    write('wiki-data/2wikimultihopqa/dev.json', [{
      _id: '8813f87c0bdd11eba7f7acde48001122',
      type: 'compositional',
      question: 'Who is the mother of the director of film Polish-Russian War?',
      context: [
        ['Polish-Russian War (film)', ['Polish-Russian War is a 2009 Polish film directed by Xawery Żuławski.', 'It is based on the novel by Dorota Masłowska.']],
        ['Xawery Żuławski', ['Xawery Żuławski is a Polish film director.', 'His mother is Małgorzata Braunek.']],
        ['Other film', ['An unrelated paragraph.']],
      ],
      supporting_facts: [['Polish-Russian War (film)', 0], ['Xawery Żuławski', 1]],
      evidences: [['Polish-Russian War', 'director', 'Xawery Żuławski'], ['Xawery Żuławski', 'mother', 'Małgorzata Braunek']],
      answer: 'Małgorzata Braunek',
    }]);
    const [wiki] = loadDataset('2wikimultihopqa', { dataDir: root });
    expect(wiki).toMatchObject({
      id: '2wikimultihopqa/8813f87c0bdd11eba7f7acde48001122',
      answers: ['Małgorzata Braunek'],
      answerType: 'text',
      metadata: { type: 'compositional', evidences: [['Polish-Russian War', 'director', 'Xawery Żuławski'], ['Xawery Żuławski', 'mother', 'Małgorzata Braunek']] },
    });
    expect(wiki.context!.map((p) => [p.title, p.supporting])).toEqual([
      ['Polish-Russian War (film)', true], ['Xawery Żuławski', true], ['Other film', false],
    ]);
    expect(wiki.context![0].text).toBe('Polish-Russian War is a 2009 Polish film directed by Xawery Żuławski. It is based on the novel by Dorota Masłowska.');
  });

  it('the other source formats load from files that are not the shared ones', () => {
    const mawps = loadDatasetFile(write('m.json', [{ iIndex: 7, sQuestion: ' Tom has 3 apples and buys 2.0 more. How many? ', lSolutions: [5.0], lEquations: ['X=3+2'] }]), 'mawps', { dataset: 'toy' });
    expect(mawps).toEqual([{ id: 'toy/0', question: 'Tom has 3 apples and buys 2.0 more. How many?', answers: ['5'], answerType: 'number', dataset: 'toy', metadata: { equations: ['X=3+2'], sourceIndex: 7 } }]);
    const gsm = loadDatasetFile(write('g.jsonl', [{ question: 'Q?', answer: 'It is 1,000 + 200 = <<1000+200=1200>>1200\n#### 1,200' }], true), 'gsm8k');
    expect(gsm[0]).toMatchObject({ id: 'gsm8k/0', answers: ['1200'], metadata: { solution: 'It is 1,000 + 200 = <<1000+200=1200>>1200' } });
    const aqua = loadDatasetFile(write('a.json', [{ question: 'Pick', options: ['A)1', 'B)2'], rationale: 'r', correct: 'B' }], true), 'aqua');
    expect(aqua[0]).toMatchObject({ answers: ['B'], choices: [{ label: 'A', text: '1' }, { label: 'B', text: '2' }] });
    const csqa = loadDatasetFile(write('c.jsonl', [{ answerKey: 'B', id: 'x1', question: { stem: 'Where?', choices: [{ label: 'A', text: 'here' }, { label: 'B', text: 'there' }] } }], true), 'commonsenseqa');
    expect(csqa[0]).toMatchObject({ id: 'commonsenseqa/x1', answers: ['B'], question: 'Where?' });
    const qa = loadDatasetFile(write('q.json', { examples: [{ question: 'Take the last letters of "Ada Lovelace".', answer: 'ae' }] }), 'question-answer', { dataset: 'letters' });
    expect(qa[0]).toMatchObject({ id: 'letters/0', answers: ['ae'], answerType: 'text' });
    const yesNo = loadDatasetFile(write('s.json', { examples: [{ input: 'Is ice cold?', target_scores: { Yes: 1, No: 0 } }] }), 'bigbench');
    expect(yesNo[0]).toMatchObject({ answers: ['yes'], answerType: 'yes-no' });
    const ircot = loadDatasetFile(write('i.jsonl', [{
      question_id: 'q1', question_text: 'When?', contexts: [{ id: '0', title: 'T', paragraph_text: 'P.', is_supporting: true }],
      answers_objects: [{ number: '', date: { day: '4', month: 'July', year: '1776' }, spans: [] }],
    }], true), 'ircot', { dataset: '2wikimultihopqa' });
    expect(ircot[0]).toMatchObject({ id: '2wikimultihopqa/q1', answers: ['July 4 1776'], context: [{ title: 'T', text: 'P.', supporting: true }] });
  });
});

describe('bad input names the file and the line or record', () => {
  it('a malformed JSONL line', () => {
    const path = join(dir, 'broken.jsonl');
    writeFileSync(path, '{"question": "Q1", "answer": "#### 1"}\n{"question": "Q2", "answer": "#### 2"\n');
    expect(() => loadDatasetFile(path, 'gsm8k')).toThrow(`${path}:2: not valid JSON`);
  });
  it('a JSONL record missing a field', () => {
    const path = write('nofield.jsonl', [{ question: 'Q1', answer: '#### 1' }, { question: 'Q2', answer: 'no final answer' }], true);
    expect(() => loadDatasetFile(path, 'gsm8k')).toThrow(`${path}:2: field "answer" has no "#### <number>" final answer`);
  });
  it('a JSON list record with a wrong field, and a JSON syntax error', () => {
    const path = write('bad-mawps.json', [{ sQuestion: 'ok', lSolutions: [1] }, { sQuestion: 'bad', lSolutions: ['many'] }]);
    expect(() => loadDatasetFile(path, 'mawps')).toThrow(`${path}: item 1 of the list: field "lSolutions" must be a number`);
    const broken = join(dir, 'syntax.json');
    writeFileSync(broken, '[\n {"sQuestion": "a", "lSolutions": [1]},\n {"sQuestion": "b" "lSolutions": [2]}\n]');
    expect(() => loadDatasetFile(broken, 'mawps')).toThrow(`${broken}:3:20: not valid JSON`);
  });
  it('an unknown format', () => {
    expect(() => loadDatasetFile('x.json', 'csv' as never)).toThrow('x.json: unknown dataset format "csv"');
  });
});

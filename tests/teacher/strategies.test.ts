import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Example } from '../../lib/data/types';
import { createOpenAIClient } from '../../lib/llm/openai-client';
import { startServer, type RunningServer } from '../../lib/llm/server';
import { loadCoTDemos, parseCoTDemos } from '../../lib/teacher/demos';
import { answerTrigger, formatQuestion } from '../../lib/teacher/prompts';
import { cote, crop, diverse, fewShotCoT, rationalization, strategyByName, zeroShotCoT } from '../../lib/teacher/strategies';
import { ArithmeticTeacher } from '../llm/support/arithmetic-teacher';

const DATA = join(__dirname, '..', '..', 'data');
const plain: Example = { id: 's/0', question: 'What is 3 + 4?', answers: ['7'], answerType: 'number' };
const tricky: Example = { id: 's/1', question: 'What is 5 + 5? (tricky)', answers: ['10'], answerType: 'number' };

describe('prompt formats', () => {
  it('writes questions, choices, context and triggers as zero-shot-CoT and IRCoT did', () => {
    const aqua: Example = {
      id: 'aqua/0', question: 'Pick one.', answers: ['B'], answerType: 'choice',
      choices: [{ label: 'A', text: '1' }, { label: 'B', text: '2' }, { label: 'C', text: '3' }],
    };
    expect(formatQuestion(aqua)).toBe('Q: Pick one. Answer Choices: (A) 1 (B) 2 (C) 3');
    expect(answerTrigger(aqua)).toBe('Therefore, among A through C, the answer is');
    expect(answerTrigger(plain)).toBe('Therefore, the answer (arabic numerals) is');
    expect(answerTrigger({ ...plain, answerType: 'yes-no' })).toBe('Therefore, the answer (Yes or No) is');
    const hop: Example = { id: 'h', question: 'Who?', answers: ['x'], answerType: 'text', context: [{ title: 'T1', text: 'One.' }, { title: 'T2', text: 'Two.' }] };
    expect(formatQuestion(hop)).toBe('Wikipedia Title: T1\nOne.\n\nWikipedia Title: T2\nTwo.\n\nQ: Who?');
  });

  it('parses the IRCoT demonstration files', () => {
    const hotpot = loadCoTDemos(join(DATA, 'hotpotqa', 'ircot_cot_demos.txt'));
    expect(hotpot).toHaveLength(29);
    expect(hotpot[0].id).toBe('5a8ed9f355429917b4a5bddd');
    expect(hotpot[0].context.map((p) => p.title)).toEqual(['Milk and Honey (album)', 'John Lennon Museum', 'Walls and Bridges',
      "Nobody Loves You (When You're Down and Out)", 'Give Peace a Chance']);
    expect(hotpot[0].context[0].text).toMatch(/^Milk and Honey is an album by John Lennon and Yoko Ono released in 1984\./);
    expect(hotpot[0].rationale).toMatch(/So the answer is: Walls and Bridges\.$/);
    const wiki = loadCoTDemos(join(DATA, '2wikimultihopqa', 'ircot_cot_demos.txt'));
    expect(wiki).toHaveLength(20);
    expect(wiki[0].question).toBe('Are both Kurram Garhi and Trojkrsti located in the same country?');
    expect(() => parseCoTDemos('# METADATA: {"qid": "x"}\nWikipedia Title: T\ntext\n\nQ: no answer line\n', 'demos.txt'))
      .toThrow('demos.txt:1: demonstration has no "Q: " line followed by an "A: " line');
  });
});

describe('teacher strategies over HTTP against the project server', () => {
  let server: RunningServer;
  const arithmetic = new ArithmeticTeacher();
  beforeAll(async () => {
    server = await startServer({ client: arithmetic });
  });
  afterAll(() => server.close());

  const teacher = (cacheDir?: string) => createOpenAIClient({ model: 'arithmetic-teacher', baseURL: server.url, apiKey: 'k', cacheDir });

  it('zero-shot CoT: two stages, answer read after the trigger, correctness against gold', async () => {
    const client = teacher();
    const [right] = await zeroShotCoT().run(client, plain);
    expect(right).toEqual({
      exampleId: 's/0', rationale: '3 plus 4 makes 7.', answer: '7', correct: true, strategy: 'zero-shot-cot', model: 'arithmetic-teacher',
      metadata: { sample: 0, answerText: '7.', trigger: 'Therefore, the answer (arabic numerals) is' },
    });
    const [wrong] = await zeroShotCoT().run(client, tricky);
    expect([wrong.answer, wrong.correct]).toEqual(['11', false]);
    expect(client.usage.requests).toBe(4);
    expect(arithmetic.prompts.slice(-2)).toEqual([
      "Q: What is 5 + 5? (tricky)\nA: Let's think step by step.",
      "Q: What is 5 + 5? (tricky)\nA: Let's think step by step. 5 plus 5 makes 11.\nTherefore, the answer (arabic numerals) is",
    ]);
  });

  it('rationalization explains the gold answer; COTE filters; CROP falls back to RP', async () => {
    const client = teacher();
    const [rp] = await rationalization().run(client, tricky);
    expect(arithmetic.prompts[arithmetic.prompts.length - 2]).toBe("Q: What is 5 + 5? (tricky)\n(Hint: the answer is 10.)\nA: Let's think step by step.");
    expect([rp.rationale, rp.answer, rp.correct, rp.strategy]).toEqual(['5 plus 5 makes 10.', '10', true, 'rationalization']);
    expect((await cote().run(client, plain)).map((r) => r.answer)).toEqual(['7']);
    expect(await cote().run(client, tricky)).toEqual([]);
    const [fromCot] = await crop().run(client, plain);
    expect([fromCot.strategy, fromCot.metadata?.source]).toEqual(['crop', 'zero-shot-cot']);
    const [fromRp] = await crop().run(client, tricky);
    expect([fromRp.strategy, fromRp.metadata?.source, fromRp.answer, fromRp.correct]).toEqual(['crop', 'rationalization', '10', true]);
  });

  it('diverse reasoning: n samples at a temperature, duplicates removed', async () => {
    const records = await diverse({ samples: 4, temperature: 0.8 }).run(teacher(), plain);
    expect(records.map((r) => r.rationale)).toEqual(['3 plus 4 makes 7.', 'Adding 3 and 4 gives 7.']);
    expect(records.every((r) => r.strategy === 'diverse' && r.correct)).toBe(true);
  });

  it('few-shot CoT with IRCoT demos, over chat as well as completions', async () => {
    const demos = loadCoTDemos(join(DATA, '2wikimultihopqa', 'ircot_cot_demos.txt')).slice(0, 2);
    for (const api of ['completion', 'chat'] as const) {
      const [record] = await fewShotCoT(demos, { api }).run(teacher(), plain);
      expect([record.rationale, record.answer, record.correct, record.strategy]).toEqual(['3 plus 4 is 7. So the answer is: 7.', '7', true, 'few-shot-cot']);
    }
  });

  it('a second run is served entirely from the cache', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'rrl-teacher-cache-'));
    const all = [zeroShotCoT(), rationalization(), cote(), crop(), diverse({ samples: 3 })];
    const run = async () => {
      const client = teacher(cacheDir);
      const records = [];
      for (const strategy of all) for (const example of [plain, tricky]) records.push(...await strategy.run(client, example));
      return records;
    };
    const first = await run();
    const before = server.stats.requests;
    expect(await run()).toEqual(first);
    expect(server.stats.requests).toBe(before);
  });
});

describe('strategies by config name', () => {
  it('builds each one, and names the problem for a bad name or missing demos', () => {
    const demos = loadCoTDemos(join(DATA, 'hotpotqa', 'ircot_cot_demos.txt'));
    for (const name of ['zero-shot-cot', 'rationalization', 'cote', 'crop', 'diverse'] as const) expect(strategyByName(name).name).toBe(name);
    expect(strategyByName('few-shot-cot', { demos }).name).toBe('few-shot-cot');
    expect(() => strategyByName('few-shot-cot')).toThrow('teacher strategy "few-shot-cot" needs demonstrations (a demos file)');
    expect(() => strategyByName('cot' as never)).toThrow('unknown teacher strategy "cot"');
  });
});

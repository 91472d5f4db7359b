/**
 * The judge-based rewards over real HTTP: lib/llm's OpenAI-compatible client talks to a minimal
 * OpenAI-compatible server on 127.0.0.1 started here. The server stands in for a judge LLM with fixed, readable
 * behaviour (a trained checkpoint's answers could not be hand-checked): it answers a reader prompt with the last
 * quoted word of the rationale, and rates aspects with fixed log-probabilities.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Example } from '../../lib/data/types';
import { OpenAICompatibleClient } from '../../lib/llm/openai-client';
import { Judge } from '../../lib/eval/judge';
import { CompositeReward, createReward } from '../../rewards';
import { loadNatural } from '../../rewards/text';

const example: Example = {
  id: 'last_letters/0', question: 'Take the last letters of each words in "Jeff Jen" and concatenate them.',
  answers: ['fn'], answerType: 'text', dataset: 'last_letters',
};

interface CompletionBody { model: string; prompt: string; logprobs?: number; max_tokens?: number }
const requests: CompletionBody[] = [];

function reply(body: CompletionBody): { text: string; logprobs?: unknown } {
  if (body.prompt.endsWith('Rating (1-5):')) {
    if (body.model === 'garbage') return { text: ' hmm' };
    if (body.model === 'no-logprobs' || body.logprobs === undefined) return { text: ' 2' };
    // P(4) = 0.5, P(5) = 0.25, P(3) = 0.25 for every aspect but fluency, which gets P(1) = 1 (the " the" alternative is no rating)
    const top = body.prompt.includes('fluency') ? { ' 1': 0, ' the': -1 } : { '4': Math.log(0.5), '5': Math.log(0.25), '3': Math.log(0.25), ' the': -3 };
    return { text: ' 4', logprobs: { tokens: [' 4'], token_logprobs: [Math.log(0.5)], top_logprobs: [top] } };
  }
  const rationale = body.prompt.slice(body.prompt.indexOf('###') + 3, body.prompt.lastIndexOf('-->'));
  const quoted = [...rationale.matchAll(/"([^"]*)"/g)].pop()?.[1] ?? '';
  return { text: ` ${quoted}` };
}

let server: Server;
let baseURL: string;

beforeAll(async () => {
  // The text rewards' natural loads in ~1.5 s (more under load) and blocks this process, which is also the server:
  // loaded first, it cannot outlast the server's 5 s keep-alive timeout between two tests' requests (ECONNRESET).
  loadNatural();
  server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      const body = JSON.parse(raw) as CompletionBody;
      requests.push(body);
      const { text, logprobs } = reply(body);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({
        id: 'cmpl-test', object: 'text_completion', model: body.model,
        choices: [{ index: 0, text, finish_reason: 'stop', logprobs: logprobs ?? null }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

const judge = (model = 'judge') => new OpenAICompatibleClient({ model, baseURL });

test('answer-correctness: the dataset score of the judge answer read from the rationale', async () => {
  const batch = [
    'The last letter of "Jeff" is "f". The last letter of "Jen" is "n". So the answer is "fn".',
    'The last letter of "Jeff" is "f". The last letter of "Jen" is "e". So the answer is "fe".',
    'I do not know.',
  ].map((rationale) => ({ example, rationale }));
  requests.length = 0;
  expect(await createReward('answer-correctness').score(batch, { judge: judge() })).toEqual([1, 0, 0]);
  expect(requests[0].prompt).toBe(new Judge(judge()).prompt(example, batch[0].rationale));
  expect(requests[0].prompt).toBe(`${example.question} ### ${batch[0].rationale} -->`);
  expect(requests[0].max_tokens).toBe(24); // the default judge.maxTokens
});

test('answer-correctness with a custom template', async () => {
  requests.length = 0;
  const asked = new Judge(judge(), { template: 'Q: {question} ### "{rationale}" -->', maxTokens: 7 });
  expect(await createReward('answer-correctness').score([{ example, rationale: 'fn' }], { judge: asked })).toEqual([1]);
  expect(requests[0].prompt).toBe(`Q: ${example.question} ### "fn" -->`);
  expect(requests[0].max_tokens).toBe(7);
  expect(asked.tally).toEqual({ answered: 1, correct: 1 });
  expect(() => createReward({ name: 'answer-correctness', options: { template: 'x' } })).toThrow('reward "answer-correctness": unknown option(s) template');
});

test('aspects: expected rating from the rating token log-probabilities', async () => {
  requests.length = 0;
  const [all] = await createReward('aspects').score([{ example, rationale: 'The last letter of "Jeff" is "f".' }], { judge: judge() });
  // seven aspects: E[rating] = 4·0.5 + 5·0.25 + 3·0.25 = 4 -> 0.75; fluency: rating 1 -> 0
  expect(all).toBeCloseTo((7 * 0.75 + 0) / 8, 10);
  expect(requests).toHaveLength(8);
  expect(requests.every((r) => r.logprobs === 5)).toBe(true);
  const [two] = await createReward({ name: 'aspects', options: { aspects: ['logicality', 'fluency'] } }).score([{ example, rationale: 'x' }], { judge: judge() });
  expect(two).toBeCloseTo(0.375, 10);
});

test('aspects: the parsed rating when the server gives no log-probabilities, and an error when there is none', async () => {
  const [parsed] = await createReward('aspects').score([{ example, rationale: 'x' }], { judge: judge('no-logprobs') });
  expect(parsed).toBeCloseTo(0.25, 10); // " 2" -> (2 − 1) / 4
  await expect(createReward('aspects').score([{ example, rationale: 'x' }], { judge: judge('garbage') }))
    .rejects.toThrow('reward "aspects": no rating 1-5 in the judge\'s reply " hmm" (aspect factuality, sample 0)');
  const [lowest] = await createReward({ name: 'aspects', options: { unparsable: 'lowest' } }).score([{ example, rationale: 'x' }], { judge: judge('garbage') });
  expect(lowest).toBe(0);
});

test('a composite of judge and text rewards logs each component', async () => {
  const composite = new CompositeReward({ weights: { 'answer-correctness': 1, 'length-guard': 0.5 }, options: { 'length-guard': { minWords: 2 } } });
  const scores = await composite.scoreAll([
    { example, rationale: 'So the answer is "fn".' },
    { example, rationale: '"x"' },
  ], { judge: judge() });
  expect(scores.components['answer-correctness']).toEqual([1, 0]);
  expect(scores.components['length-guard']).toEqual([1, 0.5]);
  expect(scores.total).toEqual([1.5, 0.25]);
});

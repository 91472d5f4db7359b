/**
 * answer-correctness with a real in-process judge: a tiny checkpoint written to disk, loaded by lib/llm's
 * LocalLLMClient. The judge's answers are whatever the random model writes, so the golds are set from its own
 * greedy decoding: the reward must be 1 where gold is that answer and 0 where it is not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { parseAnswer } from '../../lib/data/answers';
import type { Example } from '../../lib/data/types';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { CausalLM } from '../../lib/model/causal-lm';
import { saveCheckpoint } from '../../lib/model/checkpoint';
import { generate } from '../../lib/model/sampling';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { Judge } from '../../lib/eval/judge';
import { createReward } from '../../rewards';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-judge-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('the reward is the dataset score of the local judge\'s answer', async () => {
  const tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz "#->.?']);
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 96 }, { seed: 11 });
  const dir = join(root, 'judge');
  await saveCheckpoint(dir, { model, tokenizer });
  const judge = await LocalLLMClient.fromCheckpoint(dir);

  const base: Example = { id: 'q/0', question: 'take the last letters of "ann bob"', answers: ['?'], answerType: 'text' };
  const rationales = ['the last letter of "ann" is "n".', 'the last letter of "bob" is "b".'];
  const prompts = rationales.map((r) => new Judge(judge).prompt(base, r));
  const greedy = await generate(model, tokenizer, prompts, { maxNewTokens: new Judge(judge).settings.maxTokens, greedy: true, stop: ['\n'], addBos: true });
  const answers = greedy.map((g) => parseAnswer(g.text, 'text'));
  expect(answers[0]).not.toBe('');
  const examples = [{ ...base, answers: [answers[0]] }, { ...base, id: 'q/1', answers: [`${answers[1]}zz`] }];
  const scores = await createReward('answer-correctness').score(rationales.map((rationale, i) => ({ example: examples[i], rationale })), { judge });
  expect(scores).toEqual([1, 0]);
  judge.lm.dispose();
  model.dispose();
});

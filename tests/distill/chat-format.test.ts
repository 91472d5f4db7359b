/**
 * Instruct students (`student.chatTemplate`): distillation rows, evaluation and RL prompts rendered by the
 * student's own chat template (user turn: the question; assistant turn: rationale and answer), checked token by
 * token on the Qwen2 fixture's ChatML template and the real Llama 3 template.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import type { Example, RationaleRecord } from '../../lib/data/types';
import { predictWithStudent } from '../../lib/eval/predict';
import { validateExperiment } from '../../lib/experiment/config';
import { studentChat } from '../../lib/experiment/stages/student';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { loadCheckpoint } from '../../lib/model';
import { HFTokenizer, loadTokenizer } from '../../lib/tokenizer';
import { encodeDistillSet } from '../../lib/train/distill';
import { chatPrompt, chatTrainingText, encodeTrainingText, questionText, rationalePrompt, trainingTexts } from '../../lib/train/formats';

const QWEN2 = join(__dirname, '..', 'fixtures', 'hf', 'qwen2-f16');
const LLAMA = join(__dirname, '..', 'fixtures', 'hf', 'llama-sharded-bf16');
const LLAMA3 = join(__dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama3', 'models');
const example: Example = { id: 'c', question: 'A coin is heads up. Jen flips the coin. Is it still heads up?', answers: ['no'], answerType: 'yes-no' };
const record: RationaleRecord = { exampleId: 'c', rationale: ' Jen flips it, so it is tails up. ', answer: 'no', correct: true, strategy: 'zero-shot-cot', model: 'test' };

beforeAll(() => initBackend('wasm'));

test('ChatML (Qwen2 fixture): the exact token ids of a Fine-tune-CoT row, the loss on the reply and its end of turn', () => {
  const tokenizer = loadTokenizer(QWEN2);
  const [start, end] = [tokenizer.encode('<|im_start|>'), tokenizer.encode('<|im_end|>')].map((ids) => ids[0]);
  expect([start, end, tokenizer.bosId, tokenizer.eosId]).toEqual([94, 95, undefined, 95]);
  const plain = (text: string) => tokenizer.encode(text);
  // <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n
  const promptIds = [
    start, ...plain('system\nYou are a helpful assistant.'), end, ...plain('\n'),
    start, ...plain(`user\n${example.question}`), end, ...plain('\n'),
    start, ...plain('assistant\n'),
  ];
  // {rationale} --> {answer}<|im_end|> (the template's "\n" after it is not learnt: generation stops at <|im_end|>)
  const replyIds = [...plain('Jen flips it, so it is tails up. --> no'), end];

  const [text] = trainingTexts(example, record, 'fine-tune-cot');
  const chat = chatTrainingText(text, tokenizer);
  expect(chat.prompt).toBe(chatPrompt(rationalePrompt(example, 'fine-tune-cot'), tokenizer));
  const encoded = encodeTrainingText(tokenizer, chat, 256);
  expect(encoded.ids).toEqual([...promptIds, ...replyIds]); // no BOS (Qwen2 has none), no EOS after the end of turn
  expect(encoded.targetMask).toEqual([...promptIds.map(() => 0), ...replyIds.map(() => 1)]);
  // the same ids as prompt and reply encoded as one text
  expect(encoded.ids).toEqual(tokenizer.encode(chat.prompt + chat.target));
  // encodeDistillSet with chat gives that row
  expect(encodeDistillSet([record], [example], tokenizer, { format: 'fine-tune-cot', alpha: 0.5, maxLength: 256, chat: true }).rows).toEqual([encoded]);
});

test('MT-CoT: the task prefixes stay in the user turn, the markers go', () => {
  const tokenizer = loadTokenizer(QWEN2);
  const [answerTask, explainTask] = trainingTexts(example, record, 'mt-cot', 0.3).map((t) => chatTrainingText(t, tokenizer));
  const header = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n';
  expect(answerTask).toEqual({ prompt: `${header}[answer] ${questionText(example)}<|im_end|>\n<|im_start|>assistant\n`, target: 'no<|im_end|>', weight: 0.3, endsTurn: true });
  expect(explainTask.prompt).toBe(`${header}[explain] ${questionText(example)}<|im_end|>\n<|im_start|>assistant\n`);
  expect(explainTask.target).toBe('Jen flips it, so it is tails up. --> no<|im_end|>');
});

test('the real Llama 3 template writes <|begin_of_text|> itself: one BOS, even for a tokenizer that adds BOS', () => {
  const json = JSON.parse(readFileSync(join(LLAMA3, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(LLAMA3, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = new HFTokenizer(json, { ...config, add_bos_token: true });
  const [text] = trainingTexts(example, record, 'fine-tune-cot');
  const encoded = encodeTrainingText(tokenizer, chatTrainingText(text, tokenizer), 512);
  const bos = tokenizer.bosId!;
  expect(encoded.ids.filter((id) => id === bos)).toEqual([bos]);
  expect(encoded.ids[0]).toBe(bos);
  const eot = tokenizer.tokenToId('<|eot_id|>')!;
  // the reply ends with the template's end of turn (not the assistant header this template always writes after it)
  expect(encoded.ids.slice(-1)).toEqual([eot]);
  expect(tokenizer.decode(encoded.ids.filter((_, t) => encoded.targetMask[t] > 0))).toBe('Jen flips it, so it is tails up. --> no<|eot_id|>');
});

test('evaluation with chat reads the prompt rrl serve renders for the question as a user message', async () => {
  const { model, tokenizer } = await loadCheckpoint(QWEN2, { maxSeqLen: 128 });
  const numTensors = tf.memory().numTensors;
  const [withChat] = await predictWithStudent(model, tokenizer, [example], { format: 'fine-tune-cot', maxNewTokens: 8, chat: true });
  const client = new LocalLLMClient(model, tokenizer);
  const served = await client.chat({ messages: [{ role: 'user', content: questionText(example) }], maxTokens: 8, temperature: 0 });
  const direct = await client.complete({ prompt: chatPrompt(rationalePrompt(example, 'fine-tune-cot'), tokenizer), maxTokens: 8, temperature: 0 });
  expect(direct.choices[0].text).toBe(served.choices[0].text);
  expect(withChat.rationale).toBe(served.choices[0].text.split('-->')[0].trim());
  expect(tf.memory().numTensors).toBe(numTensors);
  model.dispose();
});

test('student.chatTemplate: false by default; a student without a template is refused by name', () => {
  const base = { name: 'x', data: { source: { kind: 'synthetic', task: 'coin_flip' } } };
  const plain = validateExperiment({ ...base, student: { checkpoint: QWEN2 } });
  expect(plain.student).toMatchObject({ chatTemplate: false });
  expect(studentChat(plain, loadTokenizer(QWEN2))).toBe(false);
  expect(studentChat(validateExperiment({ ...base, student: { checkpoint: QWEN2, chatTemplate: true } }), loadTokenizer(QWEN2))).toBe(true);
  const noTemplate = validateExperiment({ ...base, student: { checkpoint: LLAMA, chatTemplate: true } });
  expect(() => studentChat(noTemplate, loadTokenizer(LLAMA))).toThrow(
    `student.chatTemplate: ${LLAMA} has no chat template (tokenizer_config.json "chat_template"); set chatTemplate: false`,
  );
});

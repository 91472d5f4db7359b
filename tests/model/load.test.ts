/** One loader for both checkpoint formats: Hugging Face folders written by bench/torch/hf_reference.py. */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { loadCheckpoint } from '../../lib/model/checkpoint';
import { generate } from '../../lib/model/sampling';

const FIXTURES = join(__dirname, '..', 'fixtures', 'hf');
let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-load-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('a Qwen2 folder: no BOS (bos_token null), EOS <|im_end|> and every generation_config EOS id stops, sampling defaults', async () => {
  const { model, tokenizer, generation } = await loadCheckpoint(join(FIXTURES, 'qwen2-f16'), { maxSeqLen: 64 });
  expect(model.config).toMatchObject({ arch: 'qwen2', maxSeqLen: 64, tieEmbeddings: true, nKvHeads: 2 });
  expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([undefined, 95, 93]);
  expect(tokenizer.stopIds).toEqual([95, 93]);
  expect(generation).toEqual({ temperature: 0.7, topK: 20 });
  expect(tokenizer.encode('Hi', { addBos: true })).toEqual([26 + 7, 8]);
  // generation ends at the first stop id, whichever it is
  const [out] = await generate(model, tokenizer, ['Heads up'], { maxNewTokens: 40, greedy: true });
  const ended = out.tokenIds.findIndex((id) => id === 93 || id === 95);
  if (ended >= 0) expect([out.finishReason, out.tokenIds.length]).toEqual(['eos', ended + 1]);
  else expect(out.finishReason).toBe('length');
  model.dispose();
});

test('a sharded BF16 Llama folder with tokenizer_config.json and generation_config.json', async () => {
  const { model, tokenizer, generation } = await loadCheckpoint(join(FIXTURES, 'llama-sharded-bf16'));
  expect(model.config).toMatchObject({ arch: 'llama', maxSeqLen: 256, tieEmbeddings: false });
  expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId, tokenizer.stopIds]).toEqual([1, 2, 2, [2]]);
  expect(generation).toEqual({ maxNewTokens: 12 });
  model.dispose();
});

test('the OpenAI-compatible local client serves a Hugging Face folder', async () => {
  const client = await LocalLLMClient.fromCheckpoint(join(FIXTURES, 'llama-sharded-bf16'));
  const result = await client.complete({ prompt: 'The coin', maxTokens: 5, temperature: 0 });
  expect(result.usage.completionTokens).toBeGreaterThan(0);
  expect(result.usage.promptTokens).toBe(1 + 8); // BOS (tokenizer_config.json add_bos_token: true), then one token per character
  client.lm.dispose();
});

test('a Hugging Face folder without its tokenizer is refused by name; a bad generation_config field is named', async () => {
  const gpt2 = join(root, 'gpt2-no-tokenizer');
  cpSync(join(FIXTURES, 'gpt2'), gpt2, { recursive: true });
  rmSync(join(gpt2, 'tokenizer.json'));
  await expect(loadCheckpoint(gpt2)).rejects.toThrow(`${join(gpt2, 'tokenizer.json')}: file is missing (a Hugging Face folder needs its tokenizer)`);
  const copy = join(root, 'bad-generation');
  cpSync(join(FIXTURES, 'qwen2-f16'), copy, { recursive: true });
  writeFileSync(join(copy, 'generation_config.json'), JSON.stringify({ top_p: 2 }));
  await expect(loadCheckpoint(copy)).rejects.toThrow(`${join(copy, 'generation_config.json')}: field "top_p" must be a number in (0, 1], got 2`);
});

/**
 * Whether a model's inputs start with BOS comes from what its tokenizer declares (tokenizer_config.json
 * `add_bos_token`, else tokenizer.json's post-processor), and training, RL, evaluation and the local client all
 * encode prompts that way: the Llama fixture (add_bos_token true) gets BOS, Qwen2 (no BOS token) and GPT-2 (no
 * declaration, ByteLevel post-processor) do not.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import type { Example } from '../../lib/data/types';
import { predictWithStudent } from '../../lib/eval/predict';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { exportHFCheckpoint, loadCheckpoint, saveCheckpoint } from '../../lib/model';
import { collectRollout } from '../../lib/rl/rollout';
import { CharTokenizer, HFTokenizer, loadTokenizer } from '../../lib/tokenizer';
import { encodeTrainingText, rationalePrompt } from '../../lib/train/formats';
import { GPT2_CONFIG, gpt2StyleTokenizer, LLAMA_CONFIG, llamaStyleTokenizer } from './hf-fixtures';

const FIXTURES = join(__dirname, '..', 'fixtures', 'hf');
const example: Example = { id: 'q', question: 'Heads up?', answers: ['yes'], answerType: 'yes-no' };
let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-add-bos-'));
});

describe('the declared setting', () => {
  test('the fixtures: Llama declares add_bos_token true; Qwen2 has no BOS; GPT-2 declares nothing and its post-processor adds none', () => {
    const declared = JSON.parse(readFileSync(join(FIXTURES, 'llama-sharded-bf16', 'tokenizer_config.json'), 'utf8')).add_bos_token;
    expect(declared).toBe(true);
    expect(loadTokenizer(join(FIXTURES, 'llama-sharded-bf16')).addsBos).toBe(true);
    expect(loadTokenizer(join(FIXTURES, 'qwen2-f16')).addsBos).toBe(false);
    expect(loadTokenizer(join(FIXTURES, 'gpt2')).addsBos).toBe(false);
  });

  test('add_bos_token wins over the post-processor; without it, a TemplateProcessing (alone or in a Sequence) that starts with BOS adds it', () => {
    const llama = llamaStyleTokenizer('metaspace'); // its post-processor puts <s> first
    const { add_bos_token: _declared, ...undeclared } = LLAMA_CONFIG;
    expect(new HFTokenizer(llama, LLAMA_CONFIG).addsBos).toBe(true);
    expect(new HFTokenizer(llama, { ...LLAMA_CONFIG, add_bos_token: false }).addsBos).toBe(false);
    expect(new HFTokenizer(llama, undeclared).addsBos).toBe(true);
    expect(new HFTokenizer({ ...llama, post_processor: null }, undeclared).addsBos).toBe(false);
    // Llama 3's layout: ByteLevel, then TemplateProcessing with the BOS token
    const gpt2 = gpt2StyleTokenizer('gpt2');
    const sequence = { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true }, {
      type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }], special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [gpt2VocabEnd(gpt2)], tokens: ['<|endoftext|>'] } },
    }] };
    expect(new HFTokenizer(gpt2, GPT2_CONFIG).addsBos).toBe(false);
    expect(new HFTokenizer({ ...gpt2, post_processor: sequence }, GPT2_CONFIG).addsBos).toBe(true);
  });

  test('a non-boolean add_bos_token is named', () => {
    expect(() => new HFTokenizer(llamaStyleTokenizer('metaspace'), { ...LLAMA_CONFIG, add_bos_token: 'yes' }, 'x/tokenizer.json'))
      .toThrow('x/tokenizer.json (tokenizer_config.json): "add_bos_token" must be true or false, got "yes"');
  });

  test('a text that already starts with BOS (a rendered chat template) gets no second one', () => {
    const tokenizer = loadTokenizer(join(FIXTURES, 'llama-sharded-bf16'));
    expect(tokenizer.encode('<s>Hi', { addBos: true })).toEqual(tokenizer.encode('<s>Hi'));
    expect(tokenizer.encode('<s>Hi')[0]).toBe(tokenizer.bosId);
    expect(tokenizer.encode('Hi', { addBos: true })).toEqual([tokenizer.bosId, ...tokenizer.encode('Hi')]);
  });
});

/** The id of the one special token of the GPT-2-style test tokenizer. */
function gpt2VocabEnd(json: Record<string, unknown>): number {
  return (json.added_tokens as { id: number; content: string }[]).find((t) => t.content === '<|endoftext|>')!.id;
}

describe('prompt encoding follows it everywhere', () => {
  const cases = [['llama-sharded-bf16', true], ['qwen2-f16', false], ['gpt2', false]] as const;

  test.each(cases)('%s: training text, local client, evaluation and RL rollout (BOS first: %s)', async (name, withBos) => {
    const { model, tokenizer } = await loadCheckpoint(join(FIXTURES, name), { maxSeqLen: 64 });
    const prompt = rationalePrompt(example, 'fine-tune-cot');
    const plain = tokenizer.encode(prompt);
    const expected = withBos ? [tokenizer.bosId!, ...plain] : plain;
    // training
    const encoded = encodeTrainingText(tokenizer, { prompt, target: ' yes', weight: 1 }, 64);
    expect(encoded.ids.slice(0, expected.length)).toEqual(expected);
    expect(encoded.ids.slice(expected.length, -1)).toEqual(tokenizer.encode(' yes'));
    // the local client (rrl serve, rrl generate, an in-process judge)
    const client = new LocalLLMClient(model, tokenizer);
    expect(client.promptIds(prompt)).toEqual(expected);
    // evaluation: greedy from the same ids as generate() given the ids directly
    const numTensors = tf.memory().numTensors;
    const [prediction] = await predictWithStudent(model, tokenizer, [example], { format: 'fine-tune-cot', maxNewTokens: 3 });
    const direct = await client.complete({ prompt: expected, maxTokens: 3, temperature: 0 });
    expect(prediction.rationale).toBe(direct.choices[0].text.trim());
    // RL: the rollout's rows start with the prompt as encoded for training
    const rollout = await collectRollout(model, model, tokenizer, [example], 1, () => prompt, {
      maxNewTokens: 2, temperature: 1, stop: [], seed: 1, chunkSize: 4, withValues: false,
    });
    expect(rollout.ids[0].slice(0, expected.length)).toEqual(expected);
    expect(rollout.responseMask[0].indexOf(1)).toBe(expected.length - 1); // the first response token follows the prompt
    expect(tf.memory().numTensors).toBe(numTensors);
    model.dispose();
  });
});

describe('kept through both checkpoint formats', () => {
  test('saveCheckpoint and exportHFCheckpoint keep a Hugging Face tokenizer\'s setting; a char tokenizer exports as add_bos_token true', async () => {
    for (const [name, withBos] of [['llama-sharded-bf16', true], ['qwen2-f16', false]] as const) {
      const { model, tokenizer } = await loadCheckpoint(join(FIXTURES, name), { maxSeqLen: 32 });
      await saveCheckpoint(join(root, `${name}-own`), { model, tokenizer });
      await exportHFCheckpoint(join(root, `${name}-hf`), model, tokenizer);
      expect(loadTokenizer(join(root, `${name}-own`)).addsBos).toBe(withBos);
      expect(loadTokenizer(join(root, `${name}-hf`)).addsBos).toBe(withBos);
      model.dispose();
    }
    const { model } = await loadCheckpoint(join(FIXTURES, 'gpt2'));
    const chars = CharTokenizer.fromTexts(['abc d']);
    await exportHFCheckpoint(join(root, 'char-hf'), model, chars);
    expect(JSON.parse(readFileSync(join(root, 'char-hf', 'tokenizer_config.json'), 'utf8')).add_bos_token).toBe(true);
    const again = loadTokenizer(join(root, 'char-hf'));
    expect([again.addsBos, again.encode('abc', { addBos: again.addsBos })]).toEqual([true, chars.encode('abc', { addBos: true })]);
    model.dispose();
  });
});

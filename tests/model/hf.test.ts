import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { loadCheckpoint } from '../../lib/model/checkpoint';
import { exportHFCheckpoint, importHFCheckpoint } from '../../lib/model/hf';
import { readSafetensors, writeSafetensors } from '../../lib/model/safetensors';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { maxAbsDiff, tokenRows } from './tiny';

type T = { shape: number[]; data: Float32Array };
let root: string;

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
  root = mkdtempSync(join(tmpdir(), 'rrl-hf-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const get = (model: CausalLM, name: string): T => ({ shape: [...model.weights[name].shape], data: model.weights[name].dataSync() as Float32Array });

/** PyTorch nn.Linear layout: [out, in]. */
function linearLayout(t: T): T {
  const [rows, cols] = t.shape;
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[c * rows + r] = t.data[r * cols + c];
  return { shape: [cols, rows], data };
}

/** GPT-2 c_attn: q, k, v side by side along the output (column) axis. */
function fused(parts: T[]): T {
  const rows = parts[0].shape.length === 2 ? parts[0].shape[0] : 1;
  const widths = parts.map((p) => p.shape[p.shape.length - 1]);
  const width = widths.reduce((a, b) => a + b);
  const data = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let at = r * width;
    parts.forEach((p, k) => {
      data.set(p.data.subarray(r * widths[k], (r + 1) * widths[k]), at);
      at += widths[k];
    });
  }
  return { shape: parts[0].shape.length === 2 ? [rows, width] : [width], data };
}

function sameLogits(a: CausalLM, b: CausalLM): number {
  const ids = tf.tensor2d(tokenRows(2, 9, a.config.vocabSize, 8), undefined, 'int32');
  const [x, y] = [a, b].map((m) => tf.tidy(() => m.forward(ids).logits));
  const diff = maxAbsDiff(x, y);
  tf.dispose([ids, x, y]);
  return diff;
}

test('GPT-2: a hand-written HF folder (Conv1D weights [in, out], fused c_attn, tied head) imports to the same logits', async () => {
  const native = CausalLM.create({ arch: 'gpt2', vocabSize: 30, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 32 }, { seed: 4 });
  const tensors: Record<string, T> = { 'wte.weight': get(native, 'tok_emb'), 'wpe.weight': get(native, 'pos_emb') };
  for (let i = 0; i < 2; i++) {
    const n = (s: string) => get(native, `layers.${i}.${s}`);
    Object.assign(tensors, {
      [`h.${i}.ln_1.weight`]: n('ln1.g'), [`h.${i}.ln_1.bias`]: n('ln1.b'),
      [`h.${i}.attn.c_attn.weight`]: fused([n('attn.wq'), n('attn.wk'), n('attn.wv')]),
      [`h.${i}.attn.c_attn.bias`]: fused([n('attn.bq'), n('attn.bk'), n('attn.bv')]),
      [`h.${i}.attn.c_proj.weight`]: n('attn.wo'), [`h.${i}.attn.c_proj.bias`]: n('attn.bo'),
      [`h.${i}.ln_2.weight`]: n('ln2.g'), [`h.${i}.ln_2.bias`]: n('ln2.b'),
      [`h.${i}.mlp.c_fc.weight`]: n('mlp.w_in'), [`h.${i}.mlp.c_fc.bias`]: n('mlp.b_in'),
      [`h.${i}.mlp.c_proj.weight`]: n('mlp.w_out'), [`h.${i}.mlp.c_proj.bias`]: n('mlp.b_out'),
      // the causal-mask buffer old GPT-2 files carry
      [`h.${i}.attn.bias`]: { shape: [1, 1, 2, 2], data: Float32Array.from([1, 0, 1, 1]) },
    });
  }
  Object.assign(tensors, { 'ln_f.weight': get(native, 'ln_f.g'), 'ln_f.bias': get(native, 'ln_f.b') });
  const dir = join(root, 'gpt2');
  mkdirSync(dir);
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const hfConfig = { model_type: 'gpt2', vocab_size: 30, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32, n_inner: null, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig));
  const { model, tokenizer } = await importHFCheckpoint(dir);
  expect(tokenizer).toBeUndefined();
  expect(model.config).toMatchObject({ arch: 'gpt2', dFF: 64, tieEmbeddings: true });
  expect(sameLogits(native, model)).toBe(0);

  // export writes the save_pretrained names (transformer. prefix) and importing that gives the same logits
  const out = join(root, 'gpt2-export');
  await exportHFCheckpoint(out, model, CharTokenizer.fromTexts(['abc']));
  const written = readSafetensors(join(out, 'model.safetensors'));
  expect(written.get('transformer.h.1.attn.c_attn.weight')!.shape).toEqual([16, 48]);
  expect(Array.from(written.get('transformer.h.1.attn.c_attn.bias')!.data)).toEqual(Array.from(tensors['h.1.attn.c_attn.bias'].data));
  const again = await loadCheckpoint(out);
  expect(sameLogits(native, again.model)).toBe(0);
  [native, model, again.model].forEach((m) => m.dispose());
});

test('Llama (GQA, untied head): a hand-written HF folder with [out, in] linear weights imports to the same logits', async () => {
  const config = { arch: 'llama' as const, vocabSize: 30, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, maxSeqLen: 32, normEps: 1e-6, ropeTheta: 500 };
  const native = CausalLM.create(config, { seed: 6 });
  const tensors: Record<string, T> = { 'model.embed_tokens.weight': get(native, 'tok_emb') };
  for (let i = 0; i < 2; i++) {
    const n = (s: string) => get(native, `layers.${i}.${s}`);
    const p = `model.layers.${i}.`;
    Object.assign(tensors, {
      [`${p}input_layernorm.weight`]: n('ln1.g'),
      [`${p}self_attn.q_proj.weight`]: linearLayout(n('attn.wq')),
      [`${p}self_attn.k_proj.weight`]: linearLayout(n('attn.wk')),
      [`${p}self_attn.v_proj.weight`]: linearLayout(n('attn.wv')),
      [`${p}self_attn.o_proj.weight`]: linearLayout(n('attn.wo')),
      [`${p}post_attention_layernorm.weight`]: n('ln2.g'),
      [`${p}mlp.gate_proj.weight`]: linearLayout(n('mlp.w_gate')),
      [`${p}mlp.up_proj.weight`]: linearLayout(n('mlp.w_up')),
      [`${p}mlp.down_proj.weight`]: linearLayout(n('mlp.w_out')),
    });
  }
  Object.assign(tensors, { 'model.norm.weight': get(native, 'ln_f.g'), 'lm_head.weight': linearLayout(get(native, 'lm_head')) });
  expect(tensors['model.layers.0.self_attn.k_proj.weight'].shape).toEqual([8, 16]);
  const dir = join(root, 'llama');
  mkdirSync(dir);
  // two shards and an index, as large HF checkpoints come
  const names = Object.keys(tensors);
  const half = Math.floor(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, k) => {
    const file = `model-0000${k + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, file), Object.fromEntries(shard.map((name) => [name, tensors[name]])));
    shard.forEach((name) => (weightMap[name] = file));
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const hfConfig = {
    model_type: 'llama', vocab_size: 30, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    intermediate_size: 24, max_position_embeddings: 32, rms_norm_eps: 1e-6, rope_theta: 500, tie_word_embeddings: false, hidden_act: 'silu',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig));
  await CharTokenizer.fromTexts(['hello']).save(dir);
  const { model, tokenizer } = await importHFCheckpoint(dir);
  expect(tokenizer?.encode('hell')).toHaveLength(4);
  expect(sameLogits(native, model)).toBe(0);

  const out = join(root, 'llama-export');
  await exportHFCheckpoint(out, model);
  const written = readSafetensors(join(out, 'model.safetensors'));
  for (const [name, t] of Object.entries(tensors)) expect([name, Array.from(written.get(name)!.data)]).toEqual([name, Array.from(t.data)]);
  // bfloat16 storage (how most HF Llama checkpoints ship) imports within bf16 rounding
  const bf16 = join(root, 'llama-bf16');
  mkdirSync(bf16);
  writeSafetensors(join(bf16, 'model.safetensors'), tensors, undefined, { floatDtype: 'BF16' });
  writeFileSync(join(bf16, 'config.json'), JSON.stringify(hfConfig));
  const rounded = await importHFCheckpoint(bf16);
  const diff = sameLogits(native, rounded.model);
  expect(diff).toBeGreaterThan(0);
  expect(diff).toBeLessThan(0.02);
  [native, model, rounded.model].forEach((m) => m.dispose());
});

describe('bad HF folders give one clear error', () => {
  const folder = (name: string, config: Record<string, unknown>, tensors?: Record<string, T>): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    if (tensors) writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return dir;
  };
  const gpt2 = { model_type: 'gpt2', vocab_size: 30, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 };

  test('unknown model_type', async () => {
    const dir = folder('mamba', { ...gpt2, model_type: 'mamba' });
    await expect(importHFCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: field "model_type" is "mamba"; supported: gpt2, llama, mistral, qwen2`);
  });
  test('a sliding window shorter than the context (Mistral, Qwen2 with use_sliding_window)', async () => {
    const llama = { vocab_size: 30, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 64 };
    const mistral = folder('mistral', { ...llama, model_type: 'mistral', sliding_window: 32 });
    await expect(importHFCheckpoint(mistral)).rejects.toThrow(`${join(mistral, 'config.json')}: field "sliding_window" (32) is shorter than the context (64)`);
    const qwen = folder('qwen-window', { ...llama, model_type: 'qwen2', use_sliding_window: true, sliding_window: 16 });
    await expect(importHFCheckpoint(qwen)).rejects.toThrow(`${join(qwen, 'config.json')}: field "sliding_window" (16) is shorter than the context (64)`);
    // capped at the window, the same Mistral folder reads (and then fails on its missing weights, not its config)
    await expect(importHFCheckpoint(mistral, { maxSeqLen: 32 })).rejects.toThrow(`${mistral}: no weights file`);
  });
  test('shapes that do not fit', async () => {
    const dir = folder('heads', { ...gpt2, n_head: 3 });
    await expect(importHFCheckpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: field "nHeads" (3) must divide field "dModel" (16)`);
  });
  test('no weights file', async () => {
    const dir = folder('empty', gpt2);
    await expect(importHFCheckpoint(dir)).rejects.toThrow(`${dir}: no weights file (model.safetensors or model.safetensors.index.json)`);
  });
  test('a missing tensor is named', async () => {
    const dir = folder('partial', gpt2, { 'wte.weight': { shape: [30, 16], data: new Float32Array(480) } });
    await expect(importHFCheckpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: tensor "wpe.weight" is missing`);
  });
});

describe('export: a folder Hugging Face tools load as is', () => {
  test('an untied GPT-2 keeps its head as lm_head.weight ([vocab, d], outside transformer.) and re-imports to the same logits', async () => {
    const native = CausalLM.create({ arch: 'gpt2', vocabSize: 30, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 16, tieEmbeddings: false }, { seed: 9 });
    const out = join(root, 'gpt2-untied');
    const tokenizer = CharTokenizer.fromTexts(['abc def']);
    await exportHFCheckpoint(out, native, tokenizer);
    const written = readSafetensors(join(out, 'model.safetensors'));
    expect(written.get('lm_head.weight')!.shape).toEqual([30, 16]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'gpt2', tie_word_embeddings: false, bos_token_id: tokenizer.bosId, eos_token_id: tokenizer.eosId, pad_token_id: tokenizer.padId });
    const again = await loadCheckpoint(out);
    expect(again.model.config.tieEmbeddings).toBe(false);
    expect(sameLogits(native, again.model)).toBe(0);
    expect(again.tokenizer.encode('abc d', { addBos: true })).toEqual(tokenizer.encode('abc d', { addBos: true }));
    [native, again.model].forEach((m) => m.dispose());
  });

  test('the Qwen2 fixture exports with its q/k/v biases, its declared specials (no BOS, two stop ids) and the same logits', async () => {
    const fixture = join(__dirname, '..', 'fixtures', 'hf', 'qwen2-f16');
    const first = await loadCheckpoint(fixture);
    const out = join(root, 'qwen2-export');
    await exportHFCheckpoint(out, first.model, first.tokenizer);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'qwen2', tie_word_embeddings: true, bos_token_id: null, eos_token_id: [95, 93], pad_token_id: 93 });
    expect(readSafetensors(join(out, 'model.safetensors')).get('model.layers.1.self_attn.k_proj.bias')!.shape).toEqual([8]);
    const again = await loadCheckpoint(out);
    expect([again.tokenizer.bosId, again.tokenizer.eosId, again.tokenizer.stopIds]).toEqual([undefined, 95, [95, 93]]);
    expect(sameLogits(first.model, again.model)).toBe(0);
    [first.model, again.model].forEach((m) => m.dispose());
  });
});

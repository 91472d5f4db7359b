import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLM } from '../../lib/model/causal-lm';
import { loadCheckpoint, saveCheckpoint } from '../../lib/model/checkpoint';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { TINY, tokenRows } from './tiny';

const tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopq']); // 4 specials + 17 = 21 <= 23
let root: string;

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
  root = mkdtempSync(join(tmpdir(), 'rrl-ckpt-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each(['gpt2', 'llama'] as const)('%s checkpoint', (arch) => {
  test('save -> load gives bit-identical weights and logits', async () => {
    const model = CausalLM.create(TINY[arch], { seed: 21 });
    const dir = join(root, `${arch}-roundtrip`);
    await saveCheckpoint(dir, { model, tokenizer, extra: { step: 7 } });
    // saving again over an existing folder replaces it and leaves no temporary folders behind
    await saveCheckpoint(dir, { model, tokenizer, extra: { step: 8 } });
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'trainer_state.json']);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.extra).toEqual({ step: 8 });
    expect(loaded.model.config).toEqual(model.config);
    expect(loaded.tokenizer.encode('abc')).toEqual(tokenizer.encode('abc'));
    for (const [name, v] of Object.entries({ ...model.weights, ...model.valueHeadWeights })) {
      const other = name in loaded.model.weights ? loaded.model.weights[name] : loaded.model.valueHeadWeights[name];
      expect(Buffer.from((other.dataSync() as Float32Array).buffer).equals(Buffer.from((v.dataSync() as Float32Array).buffer))).toBe(true);
    }
    const ids = tf.tensor2d(tokenRows(2, 8, 21, 4), undefined, 'int32');
    const [a, b] = [model, loaded.model].map((m) => tf.tidy(() => m.forward(ids).logits.dataSync()));
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    model.dispose();
    loaded.model.dispose();
    ids.dispose();
  });
});

describe('bad checkpoints give one clear error naming the file or field', () => {
  let good: string;
  beforeAll(async () => {
    const model = CausalLM.create(TINY.gpt2, { seed: 1 });
    good = join(root, 'good');
    await saveCheckpoint(good, { model, tokenizer });
    model.dispose();
  });
  const copyOf = (name: string): string => {
    const dir = join(root, name);
    rmSync(dir, { recursive: true, force: true });
    require('node:fs').cpSync(good, dir, { recursive: true });
    return dir;
  };

  test('missing weights file', async () => {
    const dir = copyOf('missing');
    rmSync(join(dir, 'model.safetensors'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: weights file is missing`);
  });

  test('truncated weights file', async () => {
    const dir = copyOf('truncated');
    const path = join(dir, 'model.safetensors');
    truncateSync(path, readFileSync(path).length - 100);
    await expect(loadCheckpoint(dir)).rejects.toThrow(new RegExp(`^${path}: .*truncated`));
  });

  test('unknown architecture', async () => {
    const dir = copyOf('arch');
    const path = join(dir, 'config.json');
    const json = JSON.parse(readFileSync(path, 'utf8'));
    json.model.arch = 'mamba';
    writeFileSync(path, JSON.stringify(json));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/config\.json \(field "model"\): field "arch" is "mamba"; known architectures: gpt2, llama, qwen2/);
  });

  test('shapes that do not fit the config', async () => {
    const dir = copyOf('shapes');
    const path = join(dir, 'config.json');
    const json = JSON.parse(readFileSync(path, 'utf8'));
    json.model.nHeads = 3;
    writeFileSync(path, JSON.stringify(json));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/field "nHeads" \(3\) must divide field "dModel" \(16\)/);
    json.model.nHeads = 4;
    writeFileSync(path, JSON.stringify(json));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/field "nKvHeads" \(2\) must equal "nHeads" \(4\) for arch gpt2/);
    json.model.nHeads = 2;
    json.model.dFF = 32;
    writeFileSync(path, JSON.stringify(json));
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: weight "layers.0.mlp.w_in" has shape [16, 64] but the config needs [16, 32]`);
  });

  test('tokenizer larger than the model vocabulary', async () => {
    const dir = copyOf('vocab');
    await CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz']).save(dir);
    await expect(loadCheckpoint(dir)).rejects.toThrow(`${join(dir, 'tokenizer.json')}: tokenizer vocabSize 30 is larger than the model config's vocabSize 23`);
  });
});

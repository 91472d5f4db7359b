import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { generate, sampleToken } from '../../lib/model/sampling';
import { Random } from '../../lib/random';
import { CharTokenizer } from '../../lib/tokenizer/char';

const tokenizer = CharTokenizer.fromTexts(['abcdefghij klmnopqrs']);

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

describe('sampleToken', () => {
  const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  const frequencies = (options: Parameters<typeof sampleToken>[1]) => {
    const random = new Random(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleToken(logits, options, random)]++;
    return counts.map((c) => c / 20000);
  };

  test('greedy and temperature 0 take the argmax', () => {
    expect(sampleToken(logits, { greedy: true }, new Random(0))).toBe(0);
    expect(sampleToken(logits, { temperature: 0 }, new Random(0))).toBe(0);
  });

  test('temperature 1 samples the softmax', () => {
    const f = frequencies({});
    [0.5, 0.3, 0.15, 0.05].forEach((p, i) => expect(Math.abs(f[i] - p)).toBeLessThan(0.015));
  });

  test('temperature 0.5 squares then renormalises the probabilities', () => {
    const squares = [0.25, 0.09, 0.0225, 0.0025];
    const total = squares.reduce((a, b) => a + b);
    const f = frequencies({ temperature: 0.5 });
    squares.forEach((s, i) => expect(Math.abs(f[i] - s / total)).toBeLessThan(0.015));
  });

  test('top-k 2 keeps 0.5 and 0.3 renormalised to 0.625 / 0.375', () => {
    const f = frequencies({ topK: 2 });
    expect(Math.abs(f[0] - 0.625)).toBeLessThan(0.015);
    expect(f[2] + f[3]).toBe(0);
  });

  test('top-p 0.9 keeps the nucleus {0.5, 0.3, 0.15}', () => {
    const f = frequencies({ topP: 0.9 });
    expect(f[3]).toBe(0);
    expect(Math.abs(f[2] - 0.15 / 0.95)).toBeLessThan(0.015);
  });

  // The plain definition the fast paths must reproduce draw for draw (seeded runs depend on the exact ids):
  // weights exp((z_i − z_max)/T) in candidate order, their sum left to right, then the inverse-CDF walk.
  const referenceDraw = (z: Float32Array, options: { temperature?: number; topK?: number }, random: Random) => {
    const T = options.temperature ?? 1;
    const top = Math.max(...z);
    let ids = [...z.keys()];
    if (options.topK) ids = ids.sort((a, b) => z[b] - z[a]).slice(0, options.topK);
    const weights = ids.map((i) => Math.exp((z[i] - top) / T));
    let r = random.next() * weights.reduce((a, b) => a + b, 0);
    for (let k = 0; k < weights.length; k++) if ((r -= weights[k]) < 0) return ids[k];
    return ids[ids.length - 1];
  };

  test.each([{}, { temperature: 0.7 }, { topK: 40 }, { topK: 3, temperature: 1.5 }])('draws equal the plain definition id for id over a 50,257-token vocabulary (%j)', (options) => {
    const gen = new Random(3);
    for (let row = 0; row < 6; row++) {
      // rounded logits make many ties (broken by id) and signed zeros (ranked together)
      const z = Float32Array.from({ length: 50257 }, () => (row % 2 ? Math.round((gen.next() - 0.5) * 6) || -0 : (gen.next() - 0.5) * 12));
      expect(sampleToken(z, options, new Random(row))).toBe(referenceDraw(z, options, new Random(row)));
    }
  });

  test('top-k breaks ties by id, and -0 ties with +0', () => {
    const z = Float32Array.from([1, 3, -0, 3, 0, 3]);
    const drawn = new Set(Array.from({ length: 200 }, (_, i) => sampleToken(z, { topK: 2 }, new Random(i))));
    expect([...drawn].sort()).toEqual([1, 3]);
    const zeros = new Set(Array.from({ length: 200 }, (_, i) => sampleToken(Float32Array.from([-1, -0, 0, -2]), { topK: 2 }, new Random(i))));
    expect([...zeros].sort()).toEqual([1, 2]);
  });
});

describe.each(['gpt2', 'llama'] as const)('generate (%s)', (arch) => {
  let model: CausalLM;
  beforeAll(() => {
    const base = { vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 128 };
    model = CausalLM.create({ ...base, arch }, { seed: 9 });
  });
  afterAll(() => model.dispose());

  const prompts = ['abc', 'hello kid', 'q'];

  test('greedy with the KV cache equals greedy without it, and batched rows equal rows alone', async () => {
    const withCache = await generate(model, tokenizer, prompts, { maxNewTokens: 12, greedy: true, returnLogprobs: true });
    const without = await generate(model, tokenizer, prompts, { maxNewTokens: 12, greedy: true, returnLogprobs: true, useCache: false });
    expect(withCache.map((g) => g.tokenIds)).toEqual(without.map((g) => g.tokenIds));
    for (let r = 0; r < prompts.length; r++) {
      const [alone] = await generate(model, tokenizer, [prompts[r]], { maxNewTokens: 12, greedy: true, returnLogprobs: true });
      expect(alone.tokenIds).toEqual(withCache[r].tokenIds);
      alone.logprobs!.forEach((lp, i) => expect(Math.abs(lp - withCache[r].logprobs![i])).toBeLessThan(1e-4));
    }
  });

  test('the same seed reproduces a sample, another seed differs', async () => {
    const options = { maxNewTokens: 15, temperature: 2, seed: 5 };
    const a = await generate(model, tokenizer, prompts, options);
    const b = await generate(model, tokenizer, prompts, options);
    const c = await generate(model, tokenizer, prompts, { ...options, seed: 6 });
    expect(a).toEqual(b);
    expect(a.map((g) => g.text)).not.toEqual(c.map((g) => g.text));
  });

  test("returned logprobs match a full forward's log softmax over the finished text", async () => {
    const [g] = await generate(model, tokenizer, ['abc'], { maxNewTokens: 8, temperature: 1.5, seed: 2, returnLogprobs: true });
    const ids = [...tokenizer.encode('abc'), ...g.tokenIds];
    const lp = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d([ids], undefined, 'int32')).logits).arraySync() as number[][][]);
    g.tokenIds.forEach((token, i) => expect(Math.abs(lp[0][2 + i][token] - g.logprobs![i])).toBeLessThan(1e-4));
  });

  test('rows stop on EOS, on a stop string, or at the length budget', async () => {
    const [free] = await generate(model, tokenizer, ['abc'], { maxNewTokens: 10, greedy: true });
    expect(free.finishReason).toBe('length');
    expect(free.tokenIds).toHaveLength(10);
    const firstChar = free.text[2];
    const [stopped] = await generate(model, tokenizer, ['abc'], { maxNewTokens: 10, greedy: true, stop: ['zz', firstChar] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf(firstChar)));
    // the same tokenizer with the 4th greedy token declared as EOS: that row must end there
    const eosId = free.tokenIds[3];
    const withEos = Object.create(tokenizer, { eosId: { value: eosId } });
    const [ended, other] = await generate(model, withEos, ['abc', 'hello kid'], { maxNewTokens: 10, greedy: true });
    expect(ended.finishReason).toBe('eos');
    expect(ended.tokenIds).toEqual(free.tokenIds.slice(0, free.tokenIds.indexOf(eosId) + 1));
    const [otherAlone] = await generate(model, withEos, ['hello kid'], { maxNewTokens: 10, greedy: true });
    expect(other).toEqual(otherAlone);
  });

  test('tf.memory().numTensors is steady over 100 sampling steps', async () => {
    await generate(model, tokenizer, prompts, { maxNewTokens: 5, seed: 1 });
    const before = tf.memory().numTensors;
    let steps = 0;
    for (let seed = 0; steps < 100; seed++) {
      const out = await generate(model, tokenizer, prompts, { maxNewTokens: 100, seed });
      steps += Math.max(...out.map((g) => g.tokenIds.length));
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

test('a model vocabulary padded beyond the tokenizer never yields unknown ids; a larger tokenizer is refused', async () => {
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize + 40, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 64 }, { seed: 3 });
  const out = await generate(model, tokenizer, ['abc', 'kid'], { maxNewTokens: 40, temperature: 3, seed: 4 });
  const ids = out.flatMap((g) => g.tokenIds);
  expect(ids.length).toBeGreaterThan(20);
  expect(Math.max(...ids)).toBeLessThan(tokenizer.vocabSize);
  const small = CausalLM.create({ arch: 'gpt2', vocabSize: 10, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 64 });
  await expect(generate(small, tokenizer, ['abc'], { maxNewTokens: 2 })).rejects.toThrow(`generate: tokenizer vocabSize ${tokenizer.vocabSize} exceeds the model's vocabSize 10`);
  model.dispose();
  small.dispose();
});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { KVCache } from '../../lib/model/kv-cache';
import { sequenceLogProbs } from '../../lib/model/logprobs';
import { maxAbsDiff, TINY, tokenRows } from './tiny';

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

test('a KV cache allocates twice the positions it needs, at most its bound unless more are needed', () => {
  const cache = new KVCache(2, 24);
  expect([1, 5, 12, 13, 24, 30].map((n) => cache.slotsFor(n))).toEqual([2, 10, 24, 24, 24, 30]);
  expect(new KVCache(2).slotsFor(700)).toBe(1400);
});

describe.each(['gpt2', 'llama'] as const)('%s forward', (arch) => {
  let model: CausalLM;
  beforeAll(() => {
    model = CausalLM.create(TINY[arch], { seed: 3 });
  });
  afterAll(() => model.dispose());

  test('same seed gives the same weights, another seed different ones', () => {
    const again = CausalLM.create(TINY[arch], { seed: 3 });
    const other = CausalLM.create(TINY[arch], { seed: 4 });
    expect(maxAbsDiff(again.weights.tok_emb, model.weights.tok_emb)).toBe(0);
    expect(maxAbsDiff(other.weights.tok_emb, model.weights.tok_emb)).toBeGreaterThan(1e-3);
    again.dispose();
    other.dispose();
  });

  test('KV-cache decoding gives the logits of one full forward; one-token steps fill free slots in place', () => {
    const rows = tokenRows(2, 12, 23, 7);
    const full = tf.tidy(() => model.forward(tf.tensor2d(rows, undefined, 'int32')).logits);
    const cache = model.newCache();
    const steps: tf.Tensor[] = [];
    const chunk = (from: number, to: number) => tf.tidy(() => model.forward(tf.tensor2d(rows.map((r) => r.slice(from, to)), undefined, 'int32'), { cache }).logits);
    // a 4-token prefix, then one token at a time, then a 2-token chunk (attention by ops over the filled slots)
    steps.push(chunk(0, 4));
    const buffers = new Set<number | object>();
    for (let t = 4; t < 10; t++) {
      steps.push(chunk(t, t + 1));
      buffers.add(cache.layer(0)!.k.dataId);
    }
    // the one-token kernel (wasm) grows the cache once, to twice the positions, then writes in place; ops copy
    const fused = tf.getBackend() === 'wasm';
    expect(buffers.size).toBe(fused ? 1 : 6);
    expect(cache.layer(0)!.slots).toBe(10); // the kernel's slotsFor(5) = 10 slots, all filled now; by ops the 10 positions
    expect(cache.layer(0)!.filled).toBe(10);
    steps.push(chunk(10, 12));
    const incremental = tf.concat(steps, 1);
    expect(cache.length).toBe(12);
    expect(cache.layer(0)!.slots).toBe(12);
    expect(maxAbsDiff(incremental, full)).toBeLessThan(1e-5);
    cache.dispose();
    tf.dispose([full, incremental, ...steps]);
  });

  test('left- and right-padded batches agree with each row run alone', () => {
    const a = tokenRows(1, 7, 23, 11)[0];
    const b = tokenRows(1, 4, 23, 12)[0];
    const alone = [a, b].map((row) => tf.tidy(() => model.forward(tf.tensor2d([row], undefined, 'int32')).logits));
    const pad = 0;
    // right padding: b's real tokens at positions 0..3
    const right = tf.tidy(() =>
      model.forward(tf.tensor2d([a, [...b, pad, pad, pad]], undefined, 'int32'), {
        attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]], undefined, 'int32'),
      }).logits,
    );
    expect(maxAbsDiff(tf.slice(right, [0, 0, 0], [1, 7, -1]), alone[0])).toBeLessThan(1e-5);
    expect(maxAbsDiff(tf.slice(right, [1, 0, 0], [1, 4, -1]), alone[1])).toBeLessThan(1e-5);
    // left padding: positions must restart at b's first real token
    const left = tf.tidy(() =>
      model.forward(tf.tensor2d([a, [pad, pad, pad, ...b]], undefined, 'int32'), {
        attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]], undefined, 'int32'),
      }).logits,
    );
    expect(maxAbsDiff(tf.slice(left, [1, 3, 0], [1, 4, -1]), alone[1])).toBeLessThan(1e-5);
    tf.dispose([...alone, right, left]);
  });

  test('sequenceLogProbs picks log softmax of the next token', () => {
    const rows = tokenRows(2, 6, 23, 5);
    const ids = tf.tensor2d(rows, undefined, 'int32');
    const got = tf.tidy(() => sequenceLogProbs(model, ids));
    const logits = tf.tidy(() => tf.logSoftmax(model.forward(ids).logits));
    const table = logits.arraySync() as number[][][];
    const expected = rows.map((row, b) => row.slice(1).map((next, t) => table[b][t][next]));
    expect(got.shape).toEqual([2, 5]);
    expect(maxAbsDiff(got, tf.tensor2d(expected))).toBeLessThan(1e-5);
    tf.dispose([ids, got, logits]);
  });

  test('value head maps hidden [B, T, d] to [B, T]', () => {
    const ids = tf.tensor2d(tokenRows(2, 5, 23, 1), undefined, 'int32');
    const values = tf.tidy(() => model.value(model.forward(ids).hidden));
    expect(values.shape).toEqual([2, 5]);
    tf.dispose([ids, values]);
  });

  test('clone is a frozen copy with the same outputs', () => {
    const copy = model.clone();
    expect(Object.values(copy.weights).every((v) => !v.trainable)).toBe(true);
    expect(copy.numParams()).toBe(model.numParams());
    const ids = tf.tensor2d(tokenRows(1, 5, 23, 2), undefined, 'int32');
    const [a, b] = [model, copy].map((m) => tf.tidy(() => m.forward(ids).logits));
    expect(maxAbsDiff(a, b)).toBe(0);
    copy.dispose();
    tf.dispose([ids, a, b]);
  });
});

test('numParams counts every LM weight of the GPT-2 layout', () => {
  const model = CausalLM.create(TINY.gpt2);
  const d = 16, V = 23, L = 2, T = 24;
  const perLayer = 2 * d + (d * d + d) * 4 + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d);
  expect(model.numParams()).toBe(V * d + T * d + L * perLayer + 2 * d);
  model.dispose();
});

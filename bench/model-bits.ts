/**
 * `npx tsx bench/model-bits.ts OUT.json [BEFORE.json]`: the exact float32 bits of the model's outputs on fixed
 * seeds, for checking that a change to the model code keeps its arithmetic (same ops in the same order). For the
 * gpt2, llama and qwen2 layouts: full-sequence logits and values, the logits of three KV-cache decoding steps after
 * a left-padded prompt, and the gradients of one training loss (cross-entropy + value) with respect to every weight.
 * Writes a SHA-256 of each output's bytes to OUT.json; with BEFORE.json, compares and exits 1 on any difference.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { initBackend } from '../lib/backend';
import { CausalLM, type ModelConfig } from '../lib/model';

const CONFIGS: Record<string, ModelConfig> = {
  gpt2: { arch: 'gpt2', vocabSize: 37, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 24 },
  llama: { arch: 'llama', vocabSize: 37, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 48, maxSeqLen: 24, tieEmbeddings: false },
  qwen2: { arch: 'qwen2', vocabSize: 37, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 48, maxSeqLen: 24 },
};

const digest = (t: tf.Tensor): string => createHash('sha256').update(Buffer.from((t.dataSync() as Float32Array).buffer)).digest('hex').slice(0, 16);

function ids(batch: number, length: number, vocab: number, seed: number): number[][] {
  let s = seed;
  return Array.from({ length: batch }, () => Array.from({ length }, () => (s = (s * 1103515245 + 12345) % 2147483648) % vocab));
}

function fingerprints(name: string, config: ModelConfig): Record<string, string> {
  const model = CausalLM.create(config, { seed: 11 });
  // a non-trivial value head and biases (zero at initialisation) so their paths count
  for (const v of [...Object.values(model.weights), ...Object.values(model.valueHeadWeights)]) {
    if (v.rank === 1) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 5))));
  }
  const out: Record<string, string> = {};
  const input = tf.tensor2d(ids(3, 10, config.vocabSize, 7), undefined, 'int32');
  tf.tidy(() => {
    const { logits, hidden } = model.forward(input);
    out[`${name}.logits`] = digest(logits);
    out[`${name}.values`] = digest(model.value(hidden));
  });
  // decoding with a cache after a left-padded prompt
  const cache = model.newCache();
  const mask = [[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]];
  let maskRows = mask.map((r) => [...r]);
  tf.tidy(() => {
    const first = model.forward(tf.tensor2d(ids(3, 6, config.vocabSize, 3), undefined, 'int32'), { cache, attentionMask: tf.tensor2d(maskRows, undefined, 'int32'), lastOnly: true });
    out[`${name}.prompt`] = digest(first.logits);
  });
  for (let step = 0; step < 3; step++) {
    maskRows = maskRows.map((r) => [...r, 1]);
    tf.tidy(() => {
      const next = model.forward(tf.tensor2d([[step + 1], [step + 2], [step + 3]], undefined, 'int32'), { cache, attentionMask: tf.tensor2d(maskRows, undefined, 'int32'), lastOnly: true });
      out[`${name}.decode${step}`] = digest(next.logits);
    });
  }
  cache.dispose();
  const targets = tf.oneHot(tf.tensor1d(ids(1, 30, config.vocabSize, 9)[0], 'int32'), config.vocabSize);
  const variables = [...Object.entries(model.weights), ...Object.entries(model.valueHeadWeights)];
  const { grads } = tf.variableGrads(() => {
    const { logits, hidden } = model.forward(input);
    const ce = tf.losses.softmaxCrossEntropy(targets, tf.reshape(logits, [30, config.vocabSize]));
    return tf.add(ce, tf.mean(tf.square(model.value(hidden)))) as tf.Scalar;
  }, variables.map(([, v]) => v));
  for (const [key, v] of variables) out[`${name}.grad.${key}`] = digest(grads[v.name]);
  tf.dispose([...Object.values(grads), input, targets]);
  model.dispose();
  return out;
}

async function main(): Promise<void> {
  const [outPath, beforePath] = process.argv.slice(2);
  if (!outPath) throw new Error('usage: tsx bench/model-bits.ts OUT.json [BEFORE.json]');
  await initBackend();
  const all = Object.assign({}, ...Object.entries(CONFIGS).map(([name, config]) => fingerprints(name, config))) as Record<string, string>;
  writeFileSync(outPath, JSON.stringify(all, null, 1));
  if (!beforePath) return console.log(`${Object.keys(all).length} fingerprints written to ${outPath}`);
  const before = JSON.parse(readFileSync(beforePath, 'utf8')) as Record<string, string>;
  const differ = Object.keys({ ...before, ...all }).filter((k) => before[k] !== all[k]);
  console.log(differ.length === 0 ? `all ${Object.keys(all).length} outputs bit-identical to ${beforePath}` : `${differ.length} outputs differ: ${differ.join(', ')}`);
  process.exitCode = differ.length === 0 ? 0 : 1;
}

void main();

import * as tf from '@tensorflow/tfjs';
import { createHash } from 'crypto';
import { maskedMatMul } from '../../lib/kernels';
import { CausalLM, generate } from '../../lib/model';
import { CharTokenizer } from '../../lib/tokenizer';
import { Trainer } from '../../lib/train';

/**
 * Three AdamW steps of a small GPT-2-layout model, then a sampled generation with the KV cache: the losses, a
 * SHA-256 of every weight's bytes after training, and the generated ids. Run once per thread count to compare.
 */
export async function trainAndSample(): Promise<{ losses: number[]; weights: string; generated: number[][] }> {
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: 64, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 64, tieEmbeddings: true }, { seed: 3 });
  const trainer = new Trainer(model, { schedule: { peakLr: 1e-2, warmupSteps: 1, totalSteps: 3 }, microBatchSize: 8 });
  let s = 7;
  const ids = Array.from({ length: 8 }, () => Array.from({ length: 64 }, () => (s = (s * 1103515245 + 12345) % 2147483648) % 64));
  const targetMask = ids.map((row) => row.map(() => 1));
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) losses.push((await trainer.step({ ids, targetMask })).loss);
  trainer.dispose();
  const hash = createHash('sha256');
  for (const w of Object.values(model.weights)) hash.update(Buffer.from((w.dataSync() as Float32Array).buffer));
  const tokenizer = new CharTokenizer(Array.from({ length: 60 }, (_, i) => String.fromCodePoint(0x21 + i)));
  const generations = await generate(model, tokenizer, ['abc', 'hello', '12+34=', 'x'], { maxNewTokens: 12, seed: 5 });
  model.dispose();
  return { losses, weights: hash.digest('hex'), generated: generations.map((g) => g.tokenIds) };
}

/**
 * SHA-256s of the bytes of products large enough to be shared among threads: a fused product with a bias (as a
 * dense layer) and a 2-D BatchMatMul, 8 rows by a [1024, 640] weight (5.2M multiply-adds, XNNPACK: `runProduct`),
 * and for the sequential product a weight gradient `x^T dy` (x [256, 96], dy [256, 160]: rows split) and
 * per-head products [4, 4, 64, 32] x [4, 4, 32, 64] (heads split), and attention's masked products: scores of
 * [2, 2, 128, 32] by [2, 2, 128, 32] (heads split) and one product p^T dy of [512, 512] by [512, 32] (its blocks of
 * rows split), and the kernels with an exp per value that run on the whole pool: softmax over [16, 4, 128, 128] and
 * sigmoid over [2048, 512].
 */
export function largeProducts(): string[] {
  return tf.tidy(() => {
    const uniform = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);
    const x = uniform([8, 1024], 1);
    const w = uniform([1024, 640], 2);
    const bias = uniform([640], 3);
    return [
      tf.fused.matMul({ a: x, b: w, bias }), tf.matMul(x, w),
      tf.matMul(uniform([256, 96], 4), uniform([256, 160], 5), true, false),
      tf.matMul(uniform([4, 4, 64, 32], 6), uniform([4, 4, 32, 64], 7)),
      maskedMatMul(uniform([2, 2, 128, 32], 8), uniform([2, 2, 128, 32], 9), { transposeA: false, transposeB: true, queries: 128, past: 0, masked: 'output' })!,
      maskedMatMul(uniform([1, 1, 512, 512], 10), uniform([1, 1, 512, 32], 11), { transposeA: true, transposeB: false, queries: 512, past: 0, masked: 'a' })!,
      tf.softmax(tf.mul(uniform([16, 4, 128, 128], 12), 8)), tf.sigmoid(tf.mul(uniform([2048, 512], 13), 6)),
    ].map((t) => createHash('sha256').update(Buffer.from((t.dataSync() as Float32Array).buffer)).digest('hex'));
  });
}

import * as tf from '@tensorflow/tfjs';

/**
 * A one-block causal transformer written directly on tf ops, used to find and check the kernels a GPT-2 or
 * Llama forward+backward needs on a backend (independent of lib/model, so the kernels are tested on their own).
 */
export interface TinyConfig {
  arch: 'gpt2' | 'llama';
  vocab: number;
  d: number;
  heads: number;
  seq: number;
  batch: number;
}

/** Deterministic parameter values (JS arrays) of the layout's parameters, so two backends start identical. */
export function tinyParams(c: TinyConfig, seed = 1): Record<string, { shape: number[]; values: Float32Array }> {
  let s = seed >>> 0;
  const rand = (shape: number[], scale: number) => {
    const values = new Float32Array(shape.reduce((p, d) => p * d, 1));
    for (let i = 0; i < values.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      values[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
    }
    return { shape, values };
  };
  const { vocab, d, seq } = c;
  return {
    wte: rand([vocab, d], 0.5),
    ...(c.arch === 'gpt2' ? { wpe: rand([seq, d], 0.1) } : { wGate: rand([d, 2 * d], 0.3) }),
    normGain: rand([d], 0.1),
    wqkv: rand([d, 3 * d], 0.3),
    wo: rand([d, d], 0.3),
    wUp: rand([d, 2 * d], 0.3),
    wDown: rand([2 * d, d], 0.3),
  };
}

function norm(x: tf.Tensor, gain: tf.Tensor, arch: TinyConfig['arch']): tf.Tensor {
  const eps = 1e-5;
  if (arch === 'llama') {
    // RMSNorm: x / sqrt(mean(x^2) + eps) * (1 + g)
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), tf.add(1, gain));
  }
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  return tf.mul(tf.div(centred, tf.sqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps))), tf.add(1, gain));
}

/** Rotary embedding on the last axis (rotate-half form): x*cos + rotate(x)*sin. */
function rope(x: tf.Tensor4D, seq: number): tf.Tensor {
  const headDim = x.shape[3];
  const half = headDim / 2;
  const angles: number[] = [];
  for (let t = 0; t < seq; t++) {
    for (let i = 0; i < headDim; i++) angles.push(t / 10000 ** ((2 * (i % half)) / headDim));
  }
  const theta = tf.tensor2d(angles, [seq, headDim]);
  const [x1, x2] = [tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, half]), tf.slice(x, [0, 0, 0, half], [-1, -1, -1, half])];
  const rotated = tf.concat([tf.neg(x2), x1], -1);
  return tf.add(tf.mul(x, tf.cos(theta)), tf.mul(rotated, tf.sin(theta)));
}

/** Mean next-token cross-entropy of one block over `ids` ([batch, seq] int32), from named parameter tensors. */
export function tinyLoss(c: TinyConfig, p: Record<string, tf.Tensor>, ids: tf.Tensor2D): tf.Scalar {
  const { batch: B, seq: T, d, heads: H, vocab, arch } = c;
  const hd = d / H;
  let x = tf.gather(p.wte, ids) as tf.Tensor3D; // [B, T, d]
  if (arch === 'gpt2') x = tf.add(x, p.wpe);
  const h = tf.reshape(norm(x, p.normGain, arch), [B * T, d]);
  const qkv = tf.transpose(tf.reshape(tf.matMul(h, p.wqkv), [B, T, 3, H, hd]), [2, 0, 3, 1, 4]);
  let [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[]; // each [B, H, T, hd]
  if (arch === 'llama') [q, k] = [rope(q, T) as tf.Tensor4D, rope(k, T) as tf.Tensor4D];
  const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), tf.mul(tf.sub(1, causal), -1e9));
  const attended = tf.matMul(tf.softmax(scores), v); // [B, H, T, hd]
  const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [B * T, d]);
  const x2 = tf.add(tf.reshape(x, [B * T, d]), tf.matMul(merged, p.wo));
  const up = tf.matMul(x2, p.wUp);
  const act = arch === 'llama'
    ? tf.mul(tf.mul(up, tf.sigmoid(up)), tf.matMul(x2, p.wGate)) // SwiGLU
    : tf.mul(0.5, tf.mul(up, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(up, tf.mul(0.044715, tf.pow(up, 3))))))));
  const out = tf.add(x2, tf.matMul(act, p.wDown));
  const logits = tf.matMul(out, p.wte, false, true); // tied embeddings, [B*T, vocab]
  // Predict token t+1 from position t: drop the last position of each row.
  const logProbs = tf.reshape(tf.logSoftmax(logits), [B, T, vocab]);
  const predicting = tf.slice(logProbs, [0, 0, 0], [B, T - 1, vocab]);
  const targets = tf.oneHot(tf.slice(ids, [0, 1], [B, T - 1]), vocab);
  return tf.neg(tf.mean(tf.sum(tf.mul(predicting, targets), -1))) as tf.Scalar;
}

/** Loss and gradients (as arrays, by parameter name) on the current backend. */
export function tinyLossAndGrads(
  c: TinyConfig, params: ReturnType<typeof tinyParams>, ids: number[][],
): { loss: number; grads: Record<string, Float32Array> } {
  return tf.tidy(() => {
    const names = Object.keys(params);
    const tensors = names.map((n) => tf.tensor(params[n].values, params[n].shape));
    const idsT = tf.tensor2d(ids, [c.batch, c.seq], 'int32');
    const f = (...xs: tf.Tensor[]) => tinyLoss(c, Object.fromEntries(names.map((n, i) => [n, xs[i]])), idsT);
    const { value, grads } = tf.valueAndGrads(f)(tensors);
    return {
      loss: value.dataSync()[0],
      grads: Object.fromEntries(names.map((n, i) => [n, grads[i].dataSync().slice() as Float32Array])),
    };
  });
}

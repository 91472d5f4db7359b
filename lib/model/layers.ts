/**
 * The transformer's building blocks as plain tf ops on row-major activations: every linear map is a 2-D
 * `[rows, in] x [in, out]` product, so backends with a fast 2-D matmul use it. Callers own tidying.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalMaskAttrs } from '../kernels/causal-products';
import { geluArgument, geluTanhGrad, maskedMatMul, rowNormForward, rowNormGrad, softmaxGrad } from '../kernels/fused-ops';
import { GELU_A, GELU_C } from '../kernels/gelu-grad';

/** `x @ w (+ b)` for x [N, in], w [in, out], b [out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  // With a bias, one fused op: on wasm a 2-D product without transposes goes to XNNPACK with the bias added in
  // its output loop (one pass and one op fewer). Batched or transposed fused products would take wasm's slow
  // scalar loop, which is why the inputs here are always 2-D.
  return (b ? tf.fused.matMul({ a: x, b: w, bias: b }) : tf.matMul(x, w)) as tf.Tensor2D;
}

/** The function tf.customGrad wraps: the forward value and its gradient function, from tensors and `save`. */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

/**
 * A norm over the last axis with its gradient written out: the forward pass is x - mean when `b` is given, then
 * * rsqrt(mean square + eps), * g, + b, as one `RowNormForward` kernel where the backend has it, else as those
 * ops (the same rounding); the backward pass is one `RowNormGrad` kernel where the backend has it, else the same
 * formula in ops, instead of the automatic gradient of the forward ops (about 25 kernels over [rows, d]).
 */
function rowNormWithGrad(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D | undefined, eps: number): tf.Tensor2D {
  const center = b !== undefined;
  // customGrad passes (x, g[, b], save); the tensors are the closure's own, so only `save` is read from it.
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [value, xhat, rstd] = rowNormForward(x, g, b, eps) ?? rowNormForwardOps(x, g, b, eps);
    save([xhat, rstd]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, [savedXhat, savedRstd]: tf.Tensor[]) => {
        const grads = rowNormGrad(dy as tf.Tensor2D, savedXhat as tf.Tensor2D, savedRstd as tf.Tensor2D, g, center)
          ?? rowNormGradOps(dy, savedXhat, savedRstd, g, center);
        return center ? grads : grads.slice(0, 2);
      },
    };
  }) as CustomGradFunc);
  return (b ? op(x, g, b) : op(x, g)) as tf.Tensor2D;
}

/** [y, xhat, rstd] of {@link rowNormWithGrad} as tf ops (the rounding of `RowNormForward`). */
function rowNormForwardOps(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D | undefined, eps: number): tf.Tensor2D[] {
  const centered = b ? tf.sub(x, tf.mean(x, -1, true)) : x;
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps)) as tf.Tensor2D;
  const xhat = tf.mul(centered, rstd) as tf.Tensor2D;
  const scaled = tf.mul(xhat, g) as tf.Tensor2D;
  return [b ? tf.add(scaled, b) : scaled, xhat, rstd];
}

/** The gradients [dx, dg, db] of {@link rowNormWithGrad} as tf ops (the formula of `RowNormGrad`). */
function rowNormGradOps(dy: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor, g: tf.Tensor, center: boolean): tf.Tensor[] {
  const scaled = tf.mul(dy, g);
  const projected = tf.mul(xhat, tf.mean(tf.mul(scaled, xhat), -1, true));
  const dx = tf.mul(rstd, tf.sub(center ? tf.sub(scaled, tf.mean(scaled, -1, true)) : scaled, projected));
  return [dx, tf.sum(tf.mul(dy, xhat), 0), tf.sum(dy, 0)];
}

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * g + b. */
export function layerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D {
  return rowNormWithGrad(x, g, b, eps);
}

/** RMSNorm over the last axis (Zhang & Sennrich, 2019): x / sqrt(mean(x^2) + eps) * g. */
export function rmsNorm(x: tf.Tensor2D, g: tf.Tensor1D, eps: number): tf.Tensor2D {
  return rowNormWithGrad(x, g, undefined, eps);
}

/**
 * GELU, tanh approximation as in GPT-2: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
 * x * sigmoid(2u), the same function (0.5 (1 + tanh(u)) = sigmoid(2u)) in fewer ops and without tanh, whose
 * wasm kernel is about 18x slower than sigmoid's. The sigmoid's argument is one kernel (`GeluArgument`) where the
 * backend has it, and the gradient is written out (see `GeluTanhGrad`): one kernel where the backend has it, else
 * the formula in ops, instead of the automatic gradient of the forward ops.
 */
export const geluTanh = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(geluArgument(x) ?? tf.mul(x, tf.add(2 * GELU_C, tf.mul(2 * GELU_A * GELU_C, tf.square(x)))));
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor, [savedX, savedS]: tf.Tensor[]) => geluTanhGrad(savedX, savedS, dy) ?? geluTanhGradOps(savedX, savedS, dy),
  };
}) as CustomGradFunc) as (x: tf.Tensor) => tf.Tensor;

/** dy * (s + x s (1 - s) 2c (1 + 3a x^2)) as tf ops (the formula of `GeluTanhGrad`). */
function geluTanhGradOps(x: tf.Tensor, s: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const slope = tf.add(2 * GELU_C, tf.mul(6 * GELU_A * GELU_C, tf.square(x)));
  return tf.mul(dy, tf.add(s, tf.mul(tf.mul(x, tf.mul(s, tf.sub(1, s))), slope)));
}

/**
 * Softmax over the last axis with its gradient as one kernel where the backend has it (`SoftmaxGrad`), else as
 * tfjs's own gradient of Softmax in ops: the same values and the same rounding either way.
 */
export const softmax = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const y = tf.softmax(x);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, [savedY]: tf.Tensor[]) => softmaxGrad(dy, savedY) ?? softmaxGradOps(dy, savedY),
  };
}) as CustomGradFunc) as (x: tf.Tensor) => tf.Tensor;

/** dy y - sum(dy y) y along the last axis as tf ops (tfjs's gradient of Softmax). */
function softmaxGradOps(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const p = tf.mul(dy, y);
  return tf.sub(p, tf.mul(tf.sum(p, -1, true), y));
}

/** SwiGLU (Shazeer, 2020): silu(gate) * up, with silu(x) = x * sigmoid(x). */
export function swiGlu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

/**
 * Rotary tables for the HF "rotate half" convention: for head size h and frequency f_i = theta^(-2i/h),
 * i < h/2, position p rotates the pair (x_i, x_{i+h/2}) by angle p * f_i. Returns cos and sin [maxSeqLen, h]
 * (each frequency written twice, once per half) and the matrix R [h, h] with x @ R = rotate_half(x) =
 * concat(-x_{h/2..h}, x_{0..h/2}).
 */
export function rotaryTables(maxSeqLen: number, headSize: number, theta: number): { cos: tf.Tensor2D; sin: tf.Tensor2D; rotateHalf: tf.Tensor2D } {
  const half = headSize / 2;
  const cos = new Float32Array(maxSeqLen * headSize);
  const sin = new Float32Array(maxSeqLen * headSize);
  for (let p = 0; p < maxSeqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / headSize);
      cos[p * headSize + i] = cos[p * headSize + i + half] = Math.cos(angle);
      sin[p * headSize + i] = sin[p * headSize + i + half] = Math.sin(angle);
    }
  }
  const rotate = new Float32Array(headSize * headSize);
  for (let i = 0; i < half; i++) {
    rotate[(i + half) * headSize + i] = -1; // out_i = -x_{i+h/2}
    rotate[i * headSize + i + half] = 1; // out_{i+h/2} = x_i
  }
  return {
    cos: tf.tensor2d(cos, [maxSeqLen, headSize]),
    sin: tf.tensor2d(sin, [maxSeqLen, headSize]),
    rotateHalf: tf.tensor2d(rotate, [headSize, headSize]),
  };
}

/**
 * Applies rotary embeddings to x [N, heads * h] given cos/sin rows [N, h] already gathered at each row's
 * position: x * cos + rotate_half(x) * sin (Su et al., 2021, eq. 34, in HF's half-split layout).
 */
export function applyRotary(x: tf.Tensor2D, heads: number, cos: tf.Tensor2D, sin: tf.Tensor2D, rotateHalf: tf.Tensor2D): tf.Tensor2D {
  const [n] = x.shape;
  const h = rotateHalf.shape[0];
  const rotated = tf.matMul(tf.reshape(x, [n * heads, h]), rotateHalf);
  const x3 = tf.reshape(x, [n, heads, h]);
  const out = tf.add(tf.mul(x3, tf.expandDims(cos, 1)), tf.mul(tf.reshape(rotated, [n, heads, h]), tf.expandDims(sin, 1)));
  return tf.reshape(out, [n, heads * h]);
}

/**
 * Additive attention bias [B, T, S]: 0 where query t may see key s (s <= past + t and key s is not padding), -1e9
 * where key s is padding, and -2e9 more where it comes after the query. Finite rather than -inf, so a query that
 * sees no key (left padding) attends uniformly to the padding keys up to it instead of giving NaN; in every row the
 * keys after the query get a weight of exactly 0, which attention's masked products rely on.
 */
export function attentionBias(keyMask: tf.Tensor2D, queryLength: number, past: number): tf.Tensor3D {
  const keyLength = keyMask.shape[1];
  const causal = new Float32Array(queryLength * keyLength);
  for (let t = 0; t < queryLength; t++) for (let s = 0; s <= past + t && s < keyLength; s++) causal[t * keyLength + s] = 1;
  const padding = tf.mul(tf.sub(1, tf.expandDims(tf.cast(keyMask, 'float32'), 1)), -1e9); // [B, 1, S]
  const future = tf.mul(tf.sub(1, tf.tensor2d(causal, [queryLength, keyLength])), -2e9); // [T, S]
  return tf.add(padding, future) as tf.Tensor3D;
}

/** [B*T, heads*h] -> [B, heads, T, h] (a reshape alone when T = 1, as in each decoding step). */
export function splitHeads(x: tf.Tensor2D, batch: number, heads: number): tf.Tensor4D {
  const h = x.shape[1] / heads;
  const length = x.shape[0] / batch;
  if (length === 1) return tf.reshape(x, [batch, heads, 1, h]);
  return tf.transpose(tf.reshape(x, [batch, length, heads, h]), [0, 2, 1, 3]);
}

/** Query row r (of `queries` per head group) sees keys s <= past + (r mod queries); see {@link CausalMaskAttrs}. */
type CausalMask = Pick<CausalMaskAttrs, 'queries' | 'past'>;

/** a b (transposes as tf.matMul) computing only what `mask` leaves visible where the backend can, else in full. */
function causalMatMul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean, mask: CausalMask, masked: 'output' | 'a'): tf.Tensor {
  return maskedMatMul(a, b, { transposeA, transposeB, ...mask, masked }) ?? tf.matMul(a, b, transposeA, transposeB);
}

/**
 * Attention scores q k^T [.., rows, S] of which only the visible entries are wanted (a mask is added next), and
 * their gradients as tfjs's BatchMatMul's (dq = dy k, dk = dy^T q), the hidden entries of dy taken as 0: softmax's
 * gradient is 0 there (its output is).
 */
function causalScores(q: tf.Tensor, k: tf.Tensor, mask: CausalMask): tf.Tensor {
  return tf.customGrad(((qIn: tf.Tensor, kIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([qIn, kIn]);
    return {
      value: causalMatMul(qIn, kIn, false, true, mask, 'output'),
      gradFunc: (dy: tf.Tensor, [savedQ, savedK]: tf.Tensor[]) => [
        causalMatMul(dy, savedK, false, false, mask, 'a'),
        causalMatMul(dy, savedQ, true, false, mask, 'a'),
      ],
    };
  }) as CustomGradFunc)(q, k);
}

/**
 * The weighted sum p v of values by attention probabilities p [.., rows, S], zero where hidden, and its gradients
 * as tfjs's BatchMatMul's (dp = dy v^T wanted where visible only, dv = p^T dy).
 */
function causalWeightedSum(p: tf.Tensor, v: tf.Tensor, mask: CausalMask): tf.Tensor {
  return tf.customGrad(((pIn: tf.Tensor, vIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([pIn, vIn]);
    return {
      value: causalMatMul(pIn, vIn, false, false, mask, 'a'),
      gradFunc: (dy: tf.Tensor, [savedP, savedV]: tf.Tensor[]) => [
        causalMatMul(dy, savedV, false, true, mask, 'output'),
        causalMatMul(savedP, dy, true, false, mask, 'a'),
      ],
    };
  }) as CustomGradFunc)(p, v);
}

/**
 * Scaled dot-product attention with grouped-query heads (Ainslie et al., 2023): q [B, H, T, h], k and v
 * [B, Hkv, S, h], bias [B, T, S]; query head j*g + r (g = H / Hkv) reads key/value head j, as HF's repeat_kv.
 * Query heads of a group are folded into the rows of one product instead of copying k and v g times. When
 * `causalPast` is given, the bias hides every key s > causalPast + t from query t (a causal mask after that many
 * cached keys), and the products skip what it hides: the same values, about half the work.
 * Returns [B*T, H*h].
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor3D, causalPast?: number): tf.Tensor2D {
  const [batch, heads, queryLength, h] = q.shape;
  const kvHeads = k.shape[1];
  const keyLength = k.shape[2];
  const group = heads / kvHeads;
  const mask = causalPast === undefined ? undefined : { queries: queryLength, past: causalPast };
  // The 1/sqrt(h) scale on q, before the product: T / h times fewer multiplications than on the scores.
  const grouped = tf.reshape(tf.mul(q, 1 / Math.sqrt(h)), [batch, kvHeads, group * queryLength, h]);
  const scores = mask ? causalScores(grouped, k, mask) : tf.matMul(grouped, k, false, true);
  const biased = tf.add(tf.reshape(scores, [batch, kvHeads, group, queryLength, keyLength]), tf.reshape(bias, [batch, 1, 1, queryLength, keyLength]));
  const probs = tf.reshape(softmax(biased), [batch, kvHeads, group * queryLength, keyLength]);
  const out = tf.reshape(mask ? causalWeightedSum(probs, v, mask) : tf.matMul(probs, v), [batch, heads, queryLength, h]);
  const rows = queryLength === 1 ? out : tf.transpose(out, [0, 2, 1, 3]); // [B, T, H, h]
  return tf.reshape(rows, [batch * queryLength, heads * h]);
}

/**
 * A T5 encoder-decoder on tfjs, following HF modeling_t5: pre-norm blocks with T5's RMS norm (no bias, no mean
 * subtraction), attention without the 1/sqrt(d) scale (T5 folds it into the initialisation), one relative
 * position bias table per stack (held by its first block, added in every block of the stack), ReLU or gated-GELU
 * feed-forward, and a tied head scaled by dModel^-0.5 or an untied `lm_head`. Activations run as [B*T, d] rows
 * between attention calls; weights are named tf.Variables (see {@link t5WeightShapes}).
 */
import * as tf from '@tensorflow/tfjs';
import { geluTanh, linear, rmsNorm, splitHeads } from './layers';
import { KVCache } from './kv-cache';
import { type ResolvedT5Config, type T5Config, t5WeightShapes, validateT5Config } from './t5-config';
import { relativeBucketGrid } from './t5-position';
import { gaussian, initialWeights, valueHeadShapes } from './weights';
import type { ProjectionAdapter, WeightArrays } from './causal-lm';
import type { GenerateOptions, Generation } from './sampling';
import { entropyFromLogits, tokenLogProbs } from './logprobs';
import { rowsOf, padRows, realTokenMask, type ScoredRows, type ScoreOptions, type ScoringRows, type ScoringTensors, type StudentModel } from './student';
import { t5Generate } from './t5-generate';
import type { Tokenizer } from '../tokenizer/types';
import { Random } from '../random';

/** The encoder's output for a batch of sources: what every decoder call reads. */
export type T5Encoding = {
  /** [B, S, d] after the encoder's final norm. */
  hidden: tf.Tensor3D;
  /** [B, S]: 1 for real source tokens, 0 for padding. */
  mask: tf.Tensor2D;
};

/** Options of {@link T5Model.decode}. */
export interface T5DecodeOptions {
  /**
   * Incremental decoding: `ids` are the new decoder tokens only; self-attention keys/values are appended to the
   * cache, and cross-attention keys/values are computed from the encoding once and kept in it.
   */
  cache?: KVCache;
  /** Logits for the last position only ([B, 1, V]); used when sampling. */
  lastOnly?: boolean;
}

/** Output of {@link T5Model.decode} and {@link T5Model.forward}. */
export interface T5Output {
  /** [B, T, vocabSize] (or [B, 1, vocabSize] with `lastOnly`). */
  logits: tf.Tensor3D;
  /** The decoder's last hidden state after its final norm, [B, T, d]: the value head's input. */
  hidden: tf.Tensor3D;
}

let modelCount = 0;

function makeVariables(shapes: Map<string, number[]>, data: Map<string, Float32Array>, trainable: boolean): Record<string, tf.Variable> {
  const prefix = `t5_${modelCount++}`;
  const out: Record<string, tf.Variable> = {};
  for (const [name, shape] of shapes) {
    // tf.variable shares the initial tensor's buffer; disposing that tensor leaves the variable the only owner
    const initial = tf.tensor(data.get(name)!, shape);
    out[name] = tf.variable(initial, trainable, `${prefix}/${name}`);
    initial.dispose();
  }
  return out;
}

/**
 * T5's initialisation (HF `T5PreTrainedModel._init_weights`, factor 1): embeddings and lm_head N(0, 1), wq
 * N(0, (d * dKv)^-0.5), wk/wv N(0, d^-0.5), wo N(0, (H * dKv)^-0.5), feed-forward inputs N(0, d^-0.5), its
 * output N(0, dFF^-0.5), relative biases N(0, d^-0.5), norm gains 1.
 */
function t5InitialWeights(config: ResolvedT5Config, shapes: Map<string, number[]>, seed: number): Map<string, Float32Array> {
  const { dModel: d, dKv, nHeads, dFF } = config;
  const random = new Random(seed);
  const std = (name: string): number => {
    if (name === 'shared' || name === 'lm_head') return 1;
    if (/\.wq$/.test(name)) return (d * dKv) ** -0.5;
    if (/\.wo$/.test(name)) return (nHeads * dKv) ** -0.5;
    if (/\.ff\.w_out$/.test(name)) return dFF ** -0.5;
    return d ** -0.5; // wk, wv, feed-forward inputs, relative biases
  };
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('.g')) data.fill(1);
    else for (let i = 0, s = std(name); i < data.length; i++) data[i] = s * gaussian(random);
    out.set(name, data);
  }
  return out;
}

/** Additive bias [B, 1, 1, S] that hides padded keys: 0 where mask is 1, -1e9 where 0. */
function keyPaddingBias(mask: tf.Tensor2D): tf.Tensor4D {
  const [batch, keys] = mask.shape;
  return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9), [batch, 1, 1, keys]);
}

/** Additive bias [1, 1, T, S] letting query past + t see keys s <= past + t. */
function causalBias(queries: number, keys: number, past: number): tf.Tensor4D {
  const bias = new Float32Array(queries * keys);
  for (let t = 0; t < queries; t++) for (let s = past + t + 1; s < keys; s++) bias[t * keys + s] = -1e9;
  return tf.tensor4d(bias, [1, 1, queries, keys]);
}

/**
 * Attention without score scaling (T5): softmax(q k^T + bias) v for q [B, H, T, h], k and v [B, H, S, h], bias
 * broadcastable to [B, H, T, S]. Returns [B*T, H*h].
 */
function t5Attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor): tf.Tensor2D {
  const [batch, heads, queries, h] = q.shape;
  const probs = tf.softmax(tf.add(tf.matMul(q, k, false, true), bias)); // [B, H, T, S]
  const out = tf.matMul(probs, v); // [B, H, T, h]
  const rows = queries === 1 ? out : tf.transpose(out, [0, 2, 1, 3]); // [B, T, H, h]
  return tf.reshape(rows, [batch * queries, heads * h]);
}

export class T5Model implements StudentModel {
  readonly config: ResolvedT5Config;
  /** Parameters by native name (see {@link t5WeightShapes}). */
  readonly weights: Record<string, tf.Variable>;
  /** Value head parameters (`value_head.w` [d, 1], `value_head.b` [1]) on the decoder's last hidden state. */
  readonly valueHeadWeights: Record<string, tf.Variable>;
  /**
   * Runs on every projection when set (LoRA), called with the projection's native weight name, e.g.
   * `encoder.layers.0.self.wq`, `decoder.layers.1.cross.wv`, `decoder.layers.0.ff.w_gate`. Disposed with the model.
   */
  adapter?: ProjectionAdapter;
  /** A view made by {@link withoutAdapter}: its weights are another model's, not its own to dispose. */
  private view = false;

  private constructor(config: ResolvedT5Config, weights: Record<string, tf.Variable>, valueHeadWeights: Record<string, tf.Variable>) {
    this.config = config;
    this.weights = weights;
    this.valueHeadWeights = valueHeadWeights;
  }

  /** A freshly initialised model (T5's initialisation); the same seed gives the same weights. */
  static create(config: T5Config, options: { seed?: number } = {}): T5Model {
    const resolved = validateT5Config(config);
    const seed = options.seed ?? 0;
    const shapes = t5WeightShapes(resolved);
    const heads = valueHeadShapes(resolved);
    return new T5Model(
      resolved,
      makeVariables(shapes, t5InitialWeights(resolved, shapes, seed), true),
      makeVariables(heads, new Map(initialWeights(heads, resolved.nLayers, seed + 1)), true),
    );
  }

  /**
   * A model from host arrays by native name: every weight must be present with its exact shape; value head
   * weights are optional (fresh from `seed` when absent). `where` (a file path) names the source in errors.
   */
  static fromWeights(config: T5Config, arrays: WeightArrays, where: string, options: { seed?: number } = {}): T5Model {
    const resolved = validateT5Config(config, where);
    const shapes = t5WeightShapes(resolved);
    const heads = valueHeadShapes(resolved);
    const known = new Set([...shapes.keys(), ...heads.keys()]);
    const extra = [...arrays.keys()].find((name) => !known.has(name));
    if (extra !== undefined) throw new Error(`${where}: unexpected weight "${extra}" for a t5 model of this config`);
    const take = (wanted: Map<string, number[]>): Map<string, Float32Array> => {
      const data = new Map<string, Float32Array>();
      for (const [name, shape] of wanted) {
        const found = arrays.get(name);
        if (!found) throw new Error(`${where}: weight "${name}" is missing`);
        if (found.shape.join(',') !== shape.join(',')) {
          throw new Error(`${where}: weight "${name}" has shape [${found.shape.join(', ')}] but the config needs [${shape.join(', ')}]`);
        }
        const bad = found.data.findIndex((value) => !Number.isFinite(value));
        if (bad >= 0) throw new Error(`${where}: weight "${name}" holds a non-finite value (${found.data[bad]} at index ${bad}); the checkpoint is corrupt`);
        data.set(name, found.data);
      }
      return data;
    };
    const headData = [...heads.keys()].every((name) => arrays.has(name)) ? take(heads) : new Map(initialWeights(heads, resolved.nLayers, (options.seed ?? 0) + 1));
    return new T5Model(resolved, makeVariables(shapes, take(shapes), true), makeVariables(heads, headData, true));
  }

  /** Relative position bias [1, H, T, S] of `stack` for queries [past, past + T) against keys [0, S). */
  private positionBias(stack: 'encoder' | 'decoder', queries: number, keys: number, past: number): tf.Tensor4D {
    const { relativeBuckets, relativeMaxDistance, nHeads } = this.config;
    const grid = relativeBucketGrid(queries, keys, past, stack === 'encoder', relativeBuckets, relativeMaxDistance);
    const rows = tf.gather(this.weights[`${stack}.rel_bias`], tf.tensor1d(grid, 'int32')); // [T*S, H]
    return tf.reshape(tf.transpose(tf.reshape(rows, [queries, keys, nHeads]), [2, 0, 1]), [1, nHeads, queries, keys]);
  }

  private norm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return rmsNorm(x, this.weights[`${name}.g`] as tf.Tensor1D, this.config.normEps);
  }

  /** x [N, in] @ W [in, out] for the weight named `name` (T5 has no biases), changed by the adapter when there is one. */
  private project(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const y = linear(x, this.weights[name] as tf.Tensor2D);
    return this.adapter ? this.adapter.apply(name, x, y) : y;
  }

  /** Feed-forward of block `p`: relu(x W_in) W_out, or (gelu_new(x W_gate) * x W_up) W_out. */
  private feedForward(x: tf.Tensor2D, p: string): tf.Tensor2D {
    const inner = this.config.feedForward === 'relu'
      ? tf.relu(this.project(x, `${p}.w_in`))
      : tf.mul(geluTanh(this.project(x, `${p}.w_gate`)), this.project(x, `${p}.w_up`));
    return this.project(inner as tf.Tensor2D, `${p}.w_out`);
  }

  /**
   * Runs the encoder on source ids [B, S] (right padding marked by `mask`, default all ones). Returns the
   * encoding, whose `mask` is the given one (not tidied: call inside tf.tidy or dispose the hidden state).
   */
  encode(ids: tf.Tensor2D, mask?: tf.Tensor2D): T5Encoding {
    const { config, weights: w } = this;
    const [batch, length] = ids.shape;
    if (length > config.maxSeqLen) throw new Error(`encode: ${length} source tokens exceed the model's maxSeqLen ${config.maxSeqLen}`);
    const sourceMask = mask ?? tf.ones([batch, length], 'int32');
    if (sourceMask.shape[0] !== batch || sourceMask.shape[1] !== length) {
      throw new Error(`encode: mask has shape [${sourceMask.shape.join(', ')}] but needs [${batch}, ${length}]`);
    }
    const bias = tf.add(this.positionBias('encoder', length, length, 0), keyPaddingBias(sourceMask)); // [B, H, S, S]
    let x = tf.gather(w.shared, tf.reshape(tf.cast(ids, 'int32'), [-1])) as tf.Tensor2D; // [B*S, d]
    for (let i = 0; i < config.nLayers; i++) {
      const p = `encoder.layers.${i}`;
      const h = this.norm(x, `${p}.ln_self`);
      const [q, k, v] = ['wq', 'wk', 'wv'].map((m) => splitHeads(this.project(h, `${p}.self.${m}`), batch, config.nHeads));
      x = tf.add(x, this.project(t5Attention(q, k, v, bias), `${p}.self.wo`));
      x = tf.add(x, this.feedForward(this.norm(x, `${p}.ln_ff`), `${p}.ff`));
    }
    return { hidden: tf.reshape(this.norm(x, 'encoder.ln_f'), [batch, length, config.dModel]), mask: sourceMask };
  }

  /**
   * Runs the decoder on decoder input ids [B, T] (the start id, then the target shifted right; rows right-padded,
   * which the causal mask keeps from every real position) against an encoding. Returns logits and the final
   * hidden state (not tidied).
   */
  decode(ids: tf.Tensor2D, encoding: T5Encoding, options: T5DecodeOptions = {}): T5Output {
    const { config, weights: w } = this;
    const [batch, length] = ids.shape;
    const { cache } = options;
    const past = cache?.length ?? 0;
    if (past + length > config.maxSeqLen) throw new Error(`decode: ${past + length} target positions exceed the model's maxSeqLen ${config.maxSeqLen}`);
    const [, sourceLength, d] = encoding.hidden.shape;
    const heads = config.nHeads;
    const selfBias = tf.add(this.positionBias('decoder', length, past + length, past), causalBias(length, past + length, past)); // [1, H, T, past+T]
    const crossBias = cache ? cache.derived('cross_bias', () => keyPaddingBias(encoding.mask)) : keyPaddingBias(encoding.mask); // [B, 1, 1, S]
    const source = tf.reshape(encoding.hidden, [batch * sourceLength, d]) as tf.Tensor2D;
    // cross-attention keys/values [B, H, S, h]: with a cache, computed on the first step and kept
    const crossKV = (p: string, m: 'wk' | 'wv'): tf.Tensor4D => {
      const make = () => splitHeads(this.project(source, `${p}.cross.${m}`), batch, heads);
      return cache ? cache.derived(`${p}.cross.${m}`, make) : make();
    };

    let x = tf.gather(w.shared, tf.reshape(tf.cast(ids, 'int32'), [-1])) as tf.Tensor2D; // [B*T, d]
    for (let i = 0; i < config.nDecoderLayers; i++) {
      const p = `decoder.layers.${i}`;
      const h = this.norm(x, `${p}.ln_self`);
      const [q, k, v] = ['wq', 'wk', 'wv'].map((m) => splitHeads(this.project(h, `${p}.self.${m}`), batch, heads));
      const kv = cache ? cache.append(i, k, v) : { k, v };
      x = tf.add(x, this.project(t5Attention(q, kv.k, kv.v, selfBias), `${p}.self.wo`));
      const hc = this.norm(x, `${p}.ln_cross`);
      const qc = splitHeads(this.project(hc, `${p}.cross.wq`), batch, heads);
      x = tf.add(x, this.project(t5Attention(qc, crossKV(p, 'wk'), crossKV(p, 'wv'), crossBias), `${p}.cross.wo`));
      x = tf.add(x, this.feedForward(this.norm(x, `${p}.ln_ff`), `${p}.ff`));
    }
    if (cache) cache.length += length;
    const hidden = this.norm(x, 'decoder.ln_f'); // [B*T, d]
    const head = options.lastOnly && length > 1
      ? (tf.reshape(tf.slice(tf.reshape(hidden, [batch, length, d]), [0, length - 1, 0], [-1, 1, -1]), [batch, d]) as tf.Tensor2D)
      : hidden;
    // tied: the embedding projects hidden * d^-0.5 (HF T5ForConditionalGeneration); untied: lm_head as is
    const logits = config.tieEmbeddings
      ? tf.matMul(tf.mul(head, d ** -0.5), cache ? cache.outputProjection(w.shared as tf.Tensor2D) : w.shared, false, !cache)
      : this.project(head, 'lm_head');
    return {
      logits: tf.reshape(logits, [batch, options.lastOnly ? 1 : length, config.vocabSize]),
      hidden: tf.reshape(hidden, [batch, length, d]),
    };
  }

  /**
   * Encoder and decoder in one call: source ids [B, S] with `sourceMask`, decoder input ids [B, T]. Returns the
   * decoder's logits [B, T, V] and hidden state (not tidied).
   */
  forward(sourceIds: tf.Tensor2D, decoderIds: tf.Tensor2D, options: { sourceMask?: tf.Tensor2D } = {}): T5Output {
    return this.decode(decoderIds, this.encode(sourceIds, options.sourceMask));
  }

  /** Scalar value per decoder position from the last hidden states [B, T, d] -> [B, T] (the PPO critic). */
  value(hidden: tf.Tensor3D): tf.Tensor2D {
    const [batch, length, d] = hidden.shape;
    const v = linear(tf.reshape(hidden, [batch * length, d]), this.valueHeadWeights['value_head.w'] as tf.Tensor2D, this.valueHeadWeights['value_head.b'] as tf.Tensor1D);
    return tf.reshape(v, [batch, length]);
  }

  /**
   * Continues text prompts: each prompt (+ EOS) is a source, the continuation what the decoder writes after the
   * start id (see {@link t5Generate}).
   */
  complete(tokenizer: Tokenizer, prompts: string[], options: GenerateOptions): Promise<Generation[]> {
    const { addBos: _decoderOnly, ...rest } = options;
    return t5Generate(this, tokenizer, prompts, { ...rest, addEos: true });
  }

  /**
   * Scoring rows of prompt -> response pairs: the source is the prompt + EOS (cut to maxSeqLen keeping its start,
   * as {@link t5Generate} cuts it), `ids` the decoder start id followed by the response.
   */
  scoringRows(tokenizer: Tokenizer, prompts: string[], responses: number[][]): ScoringRows {
    const { maxSeqLen, decoderStartId } = this.config;
    const sources = prompts.map((prompt) => {
      const body = tokenizer.encode(prompt);
      return [...body.slice(0, maxSeqLen - 1), tokenizer.eosId];
    });
    return {
      ...rowsOf(responses.map(() => [decoderStartId]), responses, tokenizer.padId),
      source: { ids: padRows(sources, tokenizer.padId), mask: realTokenMask(sources) },
    };
  }

  /**
   * Next-token log-probs (and entropies) of scoring rows: the decoder reads ids[:, :L − 1] against the encoded
   * source, so position t predicts ids[t + 1]; hidden state [B, L − 1, d].
   */
  scoreRows(rows: ScoringTensors, options: ScoreOptions = {}): ScoredRows {
    if (!rows.source) throw new Error('T5Model.scoreRows: the rows have no source (scoring rows of a T5 student carry the prompt as their source)');
    const [batch, length] = rows.ids.shape;
    const decoderIds = tf.slice(rows.ids, [0, 0], [batch, length - 1]) as tf.Tensor2D; // the last token predicts nothing
    const { logits, hidden } = this.forward(rows.source.ids, decoderIds, { sourceMask: rows.source.mask });
    const temperature = options.temperature ?? 1;
    const predicting = (temperature === 1 ? logits : tf.div(logits, temperature)) as tf.Tensor3D; // [B, L − 1, V]
    const logprobs = tokenLogProbs(predicting, tf.slice(rows.ids, [0, 1], [batch, length - 1]) as tf.Tensor2D);
    return { logprobs, entropy: options.entropy ? (entropyFromLogits(predicting) as tf.Tensor2D) : undefined, hidden };
  }

  /** A new, empty decoder cache (self-attention keys/values per decoder block, cross-attention ones on first use). */
  newCache(): KVCache {
    return new KVCache(this.config.nDecoderLayers);
  }

  /** Number of parameters (the value head excluded). */
  numParams(): number {
    return Object.values(this.weights).reduce((n, v) => n + v.size, 0);
  }

  /** A frozen copy (non-trainable variables with the same values), e.g. the PPO reference model. */
  clone(): T5Model {
    const copy = (vars: Record<string, tf.Variable>): Record<string, tf.Variable> => {
      const prefix = `t5_${modelCount++}`;
      return Object.fromEntries(Object.entries(vars).map(([name, v]) => [name, tf.variable(v, false, `${prefix}/${name}`)]));
    };
    return new T5Model(this.config, copy(this.weights), copy(this.valueHeadWeights));
  }

  /** Host copies of every weight (model and value head) by native name. */
  async toArrays(): Promise<WeightArrays> {
    const out: WeightArrays = new Map();
    for (const [name, v] of [...Object.entries(this.weights), ...Object.entries(this.valueHeadWeights)]) {
      out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return out;
  }

  /**
   * The same model without its adapter, sharing every weight (no copy): with LoRA, the base model, e.g. RL's
   * frozen reference. Disposing the view frees nothing of the original's.
   */
  withoutAdapter(): T5Model {
    const base = new T5Model(this.config, this.weights, this.valueHeadWeights);
    base.view = true;
    return base;
  }

  dispose(): void {
    if (!this.view) for (const v of [...Object.values(this.weights), ...Object.values(this.valueHeadWeights)]) v.dispose();
    this.adapter?.dispose();
  }
}

/**
 * A causal transformer LM (GPT-2 or Llama layout) on tfjs. Activations run as [B*T, d] rows between attention
 * calls; weights are named tf.Variables in {@link CausalLM.weights} (LM) and {@link CausalLM.valueHeadWeights}.
 */
import * as tf from '@tensorflow/tfjs';
import { type ModelConfig, type ResolvedModelConfig, validateModelConfig } from './config';
import { decodeAttention, rowNorm } from '../kernels/fused-ops';
import { KVCache } from './kv-cache';
import { applyRotary, attention, attentionBias, geluTanh, layerNorm, linear, rmsNorm, rotaryTables, splitHeads, swiGlu } from './layers';
import { initialWeights, valueHeadShapes, weightShapes } from './weights';

/** Options of {@link CausalLM.forward}. */
export interface ForwardOptions {
  /** [B, past + T]: 1 for real tokens, 0 for padding (default all ones). Covers cached positions too. */
  attentionMask?: tf.Tensor2D;
  /** Incremental decoding: attend to the cached keys/values and append this call's. */
  cache?: KVCache;
  /** Position ids [B, T] (default: from the attention mask, so left padding does not shift positions). */
  positions?: tf.Tensor2D;
  /** Compute logits for the last position only ([B, 1, V]); used when sampling. */
  lastOnly?: boolean;
}

/** Output of {@link CausalLM.forward}. */
export interface ForwardResult {
  /** [B, T, vocabSize] (or [B, 1, vocabSize] with `lastOnly`). */
  logits: tf.Tensor3D;
  /** The last hidden state after the final norm, [B, T, dModel]: the value head's input. */
  hidden: tf.Tensor3D;
}

/** Host-side weights by name, as read from or written to a safetensors file. */
export type WeightArrays = Map<string, { shape: number[]; data: Float32Array }>;

let modelCount = 0;

function makeVariables(shapes: Map<string, number[]>, data: Map<string, Float32Array>, trainable: boolean): Record<string, tf.Variable> {
  const prefix = `causal_lm_${modelCount++}`;
  const out: Record<string, tf.Variable> = {};
  for (const [name, shape] of shapes) out[name] = tf.variable(tf.tensor(data.get(name)!, shape), trainable, `${prefix}/${name}`);
  return out;
}

/** Position ids [B, T] for the last T of the mask's columns: (number of real tokens before) clipped at 0. */
function positionsFromMask(mask: tf.Tensor2D, queryLength: number): tf.Tensor2D {
  const counts = tf.cumsum(tf.cast(mask, 'int32'), 1);
  const columns = mask.shape[1];
  return tf.maximum(tf.sub(tf.slice(counts, [0, columns - queryLength], [-1, queryLength]), 1), 0) as tf.Tensor2D;
}

export class CausalLM {
  readonly config: ResolvedModelConfig;
  /** LM parameters by native name (see {@link weightShapes}). */
  readonly weights: Record<string, tf.Variable>;
  /** Value head parameters (`value_head.w` [d, 1], `value_head.b` [1]), kept apart from the LM's. */
  readonly valueHeadWeights: Record<string, tf.Variable>;
  private readonly rotary?: { cos: tf.Tensor2D; sin: tf.Tensor2D; rotateHalf: tf.Tensor2D };

  private constructor(config: ResolvedModelConfig, weights: Record<string, tf.Variable>, valueHeadWeights: Record<string, tf.Variable>) {
    this.config = config;
    this.weights = weights;
    this.valueHeadWeights = valueHeadWeights;
    if (config.arch === 'llama') {
      this.rotary = rotaryTables(config.maxSeqLen, config.dModel / config.nHeads, config.ropeTheta);
    }
  }

  /** A freshly initialised model; the same seed gives the same weights. */
  static create(config: ModelConfig, options: { seed?: number } = {}): CausalLM {
    const resolved = validateModelConfig(config);
    const seed = options.seed ?? 0;
    const shapes = weightShapes(resolved);
    const heads = valueHeadShapes(resolved);
    return new CausalLM(
      resolved,
      makeVariables(shapes, initialWeights(shapes, resolved.nLayers, seed), true),
      makeVariables(heads, initialWeights(heads, resolved.nLayers, seed + 1), true),
    );
  }

  /**
   * A model from host arrays by native name. Every LM weight must be present with its exact shape; value head
   * weights are optional (freshly initialised when absent). `where` (a file path) names the source in errors.
   */
  static fromWeights(config: ModelConfig, arrays: WeightArrays, where: string, options: { seed?: number } = {}): CausalLM {
    const resolved = validateModelConfig(config, where);
    const check = (shapes: Map<string, number[]>, required: boolean): Map<string, Float32Array> | undefined => {
      const data = new Map<string, Float32Array>();
      for (const [name, shape] of shapes) {
        const found = arrays.get(name);
        if (!found) {
          if (!required) return undefined;
          throw new Error(`${where}: weight "${name}" is missing`);
        }
        if (found.shape.join(',') !== shape.join(',')) {
          throw new Error(`${where}: weight "${name}" has shape [${found.shape.join(', ')}] but the config needs [${shape.join(', ')}]`);
        }
        const bad = found.data.findIndex((value) => !Number.isFinite(value));
        if (bad >= 0) throw new Error(`${where}: weight "${name}" holds a non-finite value (${found.data[bad]} at index ${bad}); the checkpoint is corrupt`);
        data.set(name, found.data);
      }
      return data;
    };
    const shapes = weightShapes(resolved);
    const heads = valueHeadShapes(resolved);
    const known = new Set([...shapes.keys(), ...heads.keys()]);
    const extra = [...arrays.keys()].find((name) => !known.has(name));
    if (extra !== undefined) throw new Error(`${where}: unexpected weight "${extra}" for a ${resolved.arch} model of this config`);
    const headData = check(heads, false) ?? initialWeights(heads, resolved.nLayers, (options.seed ?? 0) + 1);
    return new CausalLM(resolved, makeVariables(shapes, check(shapes, true)!, true), makeVariables(heads, headData, true));
  }

  /**
   * Runs the model on ids [B, T]. With a cache, ids are the new tokens only and the attention mask covers the
   * cached positions plus the new ones. Returns logits and the final hidden state (not tidied: call inside
   * tf.tidy or dispose them).
   */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
    const { config, weights: w } = this;
    const [batch, length] = ids.shape;
    const past = options.cache?.length ?? 0;
    // With explicit positions (batched generation: left padding, rows of different lengths) the caller keeps every
    // position below maxSeqLen, and the padded width may exceed it; without them the width is the bound.
    if (!options.positions && past + length > config.maxSeqLen) {
      throw new Error(`forward: ${past + length} positions exceed the model's maxSeqLen ${config.maxSeqLen}`);
    }
    const mask = options.attentionMask ?? tf.ones([batch, past + length], 'int32');
    if (mask.shape[0] !== batch || mask.shape[1] !== past + length) {
      throw new Error(`forward: attentionMask has shape [${mask.shape.join(', ')}] but needs [${batch}, ${past + length}] (cached ${past} + new ${length})`);
    }
    const positions = tf.cast(tf.reshape(options.positions ?? positionsFromMask(mask, length), [-1]), 'int32') as tf.Tensor1D;
    let bias: tf.Tensor3D | undefined; // made on first use: one-token decoding with its kernel needs none
    // Decoding (with a cache) takes no gradient: each norm runs as one kernel where the backend has one.
    const decoding = options.cache !== undefined;
    const norm = (x: tf.Tensor2D, name: string): tf.Tensor2D => {
      const gain = w[`${name}.g`] as tf.Tensor1D;
      const shift = config.arch === 'gpt2' ? (w[`${name}.b`] as tf.Tensor1D) : undefined;
      const oneKernel = decoding ? rowNorm(x, gain, shift, config.normEps) : undefined;
      return oneKernel ?? (shift ? layerNorm(x, gain, shift, config.normEps) : rmsNorm(x, gain, config.normEps));
    };
    const dense = (x: tf.Tensor2D, weight: string, b?: string): tf.Tensor2D =>
      linear(x, w[weight] as tf.Tensor2D, b && config.arch === 'gpt2' ? (w[b] as tf.Tensor1D) : undefined);
    // Queries, keys and values from one product with [wq | wk | wv] (and [bq | bk | bv]), fused at run time so the
    // stored weights keep their names; with a cache the fused weights are made once per generation.
    const headSize = config.dModel / config.nHeads;
    const qkvWidths = [config.nHeads * headSize, config.nKvHeads * headSize, config.nKvHeads * headSize];
    const derived = <T extends tf.Tensor>(key: string, make: () => T): T => (options.cache ? options.cache.derived(key, make) : make());
    const projectQKV = (x: tf.Tensor2D, p: string): tf.Tensor2D[] => {
      const weight = derived(`${p}attn.wqkv`, () => tf.concat([w[`${p}attn.wq`], w[`${p}attn.wk`], w[`${p}attn.wv`]], 1) as tf.Tensor2D);
      const qkvBias = config.arch === 'gpt2'
        ? derived(`${p}attn.bqkv`, () => tf.concat([w[`${p}attn.bq`], w[`${p}attn.bk`], w[`${p}attn.bv`]]) as tf.Tensor1D)
        : undefined;
      return tf.split(linear(x, weight, qkvBias), qkvWidths, 1);
    };

    // One new token per row with a cache: attention and the cache's growth as one kernel where the backend has it.
    const attendOne = (cache: KVCache, layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor2D | undefined => {
      const step = decodeAttention({ q, k, v }, mask, cache.layer(layer), { heads: config.nHeads, kvHeads: config.nKvHeads });
      if (!step) return undefined;
      cache.replace(layer, step.keys, step.values);
      return step.out;
    };
    const attendAll = (layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor2D => {
      let keys = splitHeads(k, batch, config.nKvHeads);
      let values = splitHeads(v, batch, config.nKvHeads);
      if (options.cache) ({ k: keys, v: values } = options.cache.append(layer, keys, values));
      bias ??= attentionBias(mask, length, past);
      return attention(splitHeads(q, batch, config.nHeads), keys, values, bias);
    };

    let x = tf.gather(w.tok_emb, tf.reshape(tf.cast(ids, 'int32'), [-1])) as tf.Tensor2D;
    if (config.arch === 'gpt2') x = tf.add(x, tf.gather(w.pos_emb, positions));
    const rotaryRows = this.rotary && { cos: tf.gather(this.rotary.cos, positions), sin: tf.gather(this.rotary.sin, positions) };
    for (let i = 0; i < config.nLayers; i++) {
      const p = `layers.${i}.`;
      const h = norm(x, `${p}ln1`);
      let [q, k, v] = projectQKV(h, p);
      if (this.rotary && rotaryRows) {
        q = applyRotary(q, config.nHeads, rotaryRows.cos, rotaryRows.sin, this.rotary.rotateHalf);
        k = applyRotary(k, config.nKvHeads, rotaryRows.cos, rotaryRows.sin, this.rotary.rotateHalf);
      }
      const attended = (options.cache && length === 1 && attendOne(options.cache, i, q, k, v)) || attendAll(i, q, k, v);
      x = tf.add(x, dense(attended, `${p}attn.wo`, `${p}attn.bo`));
      const h2 = norm(x, `${p}ln2`);
      const inner = config.arch === 'gpt2' ? geluTanh(dense(h2, `${p}mlp.w_in`, `${p}mlp.b_in`)) : swiGlu(dense(h2, `${p}mlp.w_gate`), dense(h2, `${p}mlp.w_up`));
      x = tf.add(x, dense(inner as tf.Tensor2D, `${p}mlp.w_out`, `${p}mlp.b_out`));
    }
    if (options.cache) options.cache.length += length;
    const hidden = norm(x, 'ln_f');
    const head = options.lastOnly && length > 1 ? (tf.reshape(tf.slice(tf.reshape(hidden, [batch, length, -1]), [0, length - 1, 0], [-1, 1, -1]), [batch, -1]) as tf.Tensor2D) : hidden;
    const logits = !config.tieEmbeddings
      ? tf.matMul(head, w.lm_head as tf.Tensor2D)
      : options.cache
        ? tf.matMul(head, options.cache.outputProjection(w.tok_emb as tf.Tensor2D))
        : tf.matMul(head, w.tok_emb, false, true);
    return {
      logits: tf.reshape(logits, [batch, options.lastOnly ? 1 : length, config.vocabSize]),
      hidden: tf.reshape(hidden, [batch, length, config.dModel]),
    };
  }

  /** Scalar value per position from the last hidden states [B, T, d] -> [B, T] (the PPO critic). */
  value(hidden: tf.Tensor3D): tf.Tensor2D {
    const [batch, length, d] = hidden.shape;
    const v = linear(tf.reshape(hidden, [batch * length, d]), this.valueHeadWeights['value_head.w'] as tf.Tensor2D, this.valueHeadWeights['value_head.b'] as tf.Tensor1D);
    return tf.reshape(v, [batch, length]);
  }

  /** A new, empty KV cache for this model. */
  newCache(): KVCache {
    return new KVCache(this.config.nLayers);
  }

  /** Number of LM parameters (the value head excluded). */
  numParams(): number {
    return Object.values(this.weights).reduce((n, v) => n + v.size, 0);
  }

  /** A frozen copy (non-trainable variables with the same values), e.g. the PPO reference model. */
  clone(): CausalLM {
    const copy = (vars: Record<string, tf.Variable>): Record<string, tf.Variable> => {
      const prefix = `causal_lm_${modelCount++}`;
      return Object.fromEntries(Object.entries(vars).map(([name, v]) => [name, tf.variable(v, false, `${prefix}/${name}`)]));
    };
    return new CausalLM(this.config, copy(this.weights), copy(this.valueHeadWeights));
  }

  /** Host copies of every weight (LM and value head) by native name. */
  async toArrays(): Promise<WeightArrays> {
    const out: WeightArrays = new Map();
    for (const [name, v] of [...Object.entries(this.weights), ...Object.entries(this.valueHeadWeights)]) {
      out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return out;
  }

  dispose(): void {
    for (const v of [...Object.values(this.weights), ...Object.values(this.valueHeadWeights)]) v.dispose();
    if (this.rotary) for (const t of Object.values(this.rotary)) t.dispose();
  }
}

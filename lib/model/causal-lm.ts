/**
 * A causal transformer LM (GPT-2, Llama or Qwen2 layout, see LAYOUTS in config.ts) on tfjs, read top to bottom as
 * forward -> embed -> block (attention, mlp) x nLayers -> norm -> head. Activations run as [B*T, C] rows between
 * attention calls (C = dModel, H heads of size hs, Hkv key/value heads, V the vocabulary); weights are named
 * tf.Variables in {@link CausalLM.weights} (LM) and {@link CausalLM.valueHeadWeights}. Every linear map goes
 * through {@link CausalLM.linear}; decoding's fast kernels come from {@link CausalLM.ops}.
 */
import * as tf from '@tensorflow/tfjs';
import { hasQKVBias, LAYOUTS, type ModelConfig, type ResolvedModelConfig, usesRotary, validateModelConfig } from './config';
import { KVCache } from './kv-cache';
import { FUSED_OPS, type FastOps } from './ops';
import { recomputed, type RandomReplay } from './recompute';
import { applyRotary, attention, attentionBias, geluTanh, layerNorm, linear, rmsNorm, rotaryTables, splitHeads, swiGlu } from './layers';
import { initialWeights, valueHeadShapes, weightShapes } from './weights';
import { generate, type GenerateOptions, type Generation } from './sampling';
import { scoreNextTokens } from './logprobs';
import { rowsOf, type ScoredRows, type ScoreOptions, type ScoringRows, type ScoringTensors, type StudentModel } from './student';
import type { Tokenizer } from '../tokenizer/types';

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

/** What every block of one forward pass shares. */
interface Pass {
  batch: number;
  /** New positions per row (T). */
  length: number;
  /** Cached positions per row. */
  past: number;
  /** [B, past + T]: 1 for real tokens, 0 for padding. */
  mask: tf.Tensor2D;
  /** Position id of each new row, [B*T]. */
  positions: tf.Tensor1D;
  cache?: KVCache;
  lastOnly: boolean;
  /** Rotary cos/sin rows [B*T, hs] at `positions`, gathered by the first block. */
  rotaryRows?: { cos: tf.Tensor2D; sin: tf.Tensor2D };
  /** Additive attention bias [B, T, past + T], made on first use (one-token decoding with its kernel needs none). */
  bias?: tf.Tensor3D;
}

/**
 * A change to the model's projections (LoRA: lib/model/lora.ts). The forward pass calls `apply` with each
 * projection's output y [N, out] and its input x [N, in]: `layers.<i>.attn.qkv` (q, k and v in one), then
 * `layers.<i>.attn.wo`, `.mlp.w_in` (GPT-2), `.mlp.w_gate`, `.mlp.w_up` (Llama), `.mlp.w_out`.
 */
export interface ProjectionAdapter extends RandomReplay {
  /** The adapter's own trainable parameters. */
  readonly weights: Record<string, tf.Variable>;
  /** Training-only behaviour (dropout) on. */
  training: boolean;
  apply(projection: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

/** Host-side weights by name, as read from or written to a safetensors file. */
export type WeightArrays = Map<string, { shape: number[]; data: Float32Array }>;

let modelCount = 0;

/**
 * One variable per shape, each holding the only copy of its values: the tensor it is made from is disposed (a
 * variable shares its buffer; left alive it would count the bytes twice in tf.memory() and pin the buffer), and
 * each host array is read once, when its variable is made, so callers may stream them.
 */
function makeVariables(shapes: Map<string, number[]>, data: Iterable<[string, Float32Array]>, trainable: boolean): Record<string, tf.Variable> {
  const prefix = `causal_lm_${modelCount++}`;
  const out: Record<string, tf.Variable> = {};
  for (const [name, values] of data) {
    const initial = tf.tensor(values, shapes.get(name)!);
    out[name] = tf.variable(initial, trainable, `${prefix}/${name}`);
    initial.dispose();
  }
  return out;
}

/** Position ids [B, T] for the last T of the mask's columns: (number of real tokens before) clipped at 0. */
function positionsFromMask(mask: tf.Tensor2D, queryLength: number): tf.Tensor2D {
  const counts = tf.cumsum(tf.cast(mask, 'int32'), 1);
  const columns = mask.shape[1];
  return tf.maximum(tf.sub(tf.slice(counts, [0, columns - queryLength], [-1, queryLength]), 1), 0) as tf.Tensor2D;
}

/**
 * What a one-token decoding kernel takes of layer `layer`'s cache: the cached keys/values, the key length after this
 * step, and the attributes for the cache's slots (how many to allocate when full, the keys' layout).
 */
function cachedForStep(cache: KVCache, layer: number, pass: Pass) {
  const past = cache.layer(layer);
  const keyLength = pass.past + 1;
  return { past, keyLength, slots: { slots: cache.slotsFor(keyLength), keysTransposed: past?.keysTransposed ?? false } };
}

export class CausalLM implements StudentModel {
  readonly config: ResolvedModelConfig;
  /** LM parameters by native name (see {@link weightShapes}). */
  readonly weights: Record<string, tf.Variable>;
  /** Value head parameters (`value_head.w` [d, 1], `value_head.b` [1]), kept apart from the LM's. */
  readonly valueHeadWeights: Record<string, tf.Variable>;
  /** The fast kernels the forward pass takes where the backend has them (see {@link FastOps}). */
  ops: FastOps = FUSED_OPS;
  /**
   * Runs in every forward pass when set (see {@link ProjectionAdapter}); the weights above stay as they are.
   * Disposed with the model.
   */
  adapter?: ProjectionAdapter;
  /**
   * Recompute each transformer block in the backward pass instead of keeping its activations (see recompute.ts):
   * a training step then holds one block's activations plus each block's input, for one more forward pass of
   * compute. Gradients reach the trainable weights (the adapter's when one is attached). Off by default.
   */
  gradientCheckpointing = false;
  /**
   * Rows of logits computed at once where log-probs of chosen tokens are taken ({@link scoreNextTokens} in
   * logprobs.ts: training loss, RL log-probs): 0 (the default) computes the whole [B, T, V] at once; n > 0 takes n
   * rows at a time and recomputes them in the backward pass, so no more than n x V logits are alive. With n > 0 a
   * tied head also decodes through {@link logitsOf} instead of a transposed embedding kept per KV cache.
   */
  logitChunkRows = 0;
  private readonly rotary?: { cos: tf.Tensor2D; sin: tf.Tensor2D; rotateHalf: tf.Tensor2D };
  /** A view made by {@link withoutAdapter}: its weights are another model's, not its own to dispose. */
  private view = false;

  private constructor(config: ResolvedModelConfig, weights: Record<string, tf.Variable>, valueHeadWeights: Record<string, tf.Variable>) {
    this.config = config;
    this.weights = weights;
    this.valueHeadWeights = valueHeadWeights;
    if (usesRotary(config.arch)) {
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
   * Runs the model on ids [B, T]: token (+ position) embedding -> nLayers x Block -> final norm -> head. With a
   * cache, ids are the new tokens only and the attention mask covers the cached positions plus the new ones.
   * Returns logits and the final hidden state (not tidied: call inside tf.tidy or dispose them).
   */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
    const { config } = this;
    const pass = this.begin(ids, options);
    const hidden = this.trunk(ids, pass); // [B*T, C]
    const logits = this.head(hidden, pass); // [B*T, V], or [B, V] with lastOnly
    return {
      logits: tf.reshape(logits, [pass.batch, pass.lastOnly ? 1 : pass.length, config.vocabSize]),
      hidden: tf.reshape(hidden, [pass.batch, pass.length, config.dModel]),
    };
  }

  /** {@link forward} without the head: the final hidden state [B, T, dModel] alone (not tidied). */
  hiddenStates(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const pass = this.begin(ids, options);
    return tf.reshape(this.trunk(ids, pass), [pass.batch, pass.length, this.config.dModel]);
  }

  /** Embedding -> blocks -> final norm: ids [B, T] -> hidden rows [B*T, C]. */
  private trunk(ids: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    let x = this.embed(ids, pass); // [B*T, C]
    const recompute = this.gradientCheckpointing && !pass.cache;
    // A prompt filling a cache takes no gradient: each block's intermediates are freed when it ends, so the pass
    // holds one block's at a time instead of every layer's until the caller's tidy ends.
    const prompt = pass.cache !== undefined && pass.length > 1;
    if (prompt) this.shareAcrossBlocks(pass);
    for (let layer = 0; layer < this.config.nLayers; layer++) {
      if (recompute) x = this.recomputedBlock(layer, x, pass); // [B*T, C]
      else if (!prompt) x = this.block(layer, x, pass);
      else {
        const input = x;
        x = tf.tidy(() => this.block(layer, input, pass));
        input.dispose();
      }
    }
    if (pass.cache) pass.cache.length += pass.length;
    return this.norm(x, 'ln_f', pass);
  }

  /** Makes the pass's attention bias and rotary rows before the blocks, so that every block reads the same ones. */
  private shareAcrossBlocks(pass: Pass): tf.Tensor3D {
    if (this.rotary) pass.rotaryRows ??= this.rotaryRowsAt(pass.positions); // [B*T, hs]
    return (pass.bias ??= attentionBias(pass.mask, pass.length, pass.past)); // [B, T, past + T]
  }

  /** Checks the inputs of {@link forward} and derives what every block of the pass shares. */
  private begin(ids: tf.Tensor2D, options: ForwardOptions): Pass {
    const [batch, length] = ids.shape;
    const past = options.cache?.length ?? 0;
    // With explicit positions (batched generation: left padding, rows of different lengths) the caller keeps every
    // position below maxSeqLen, and the padded width may exceed it; without them the width is the bound.
    if (!options.positions && past + length > this.config.maxSeqLen) {
      throw new Error(`forward: ${past + length} positions exceed the model's maxSeqLen ${this.config.maxSeqLen}`);
    }
    const mask = options.attentionMask ?? tf.ones([batch, past + length], 'int32');
    if (mask.shape[0] !== batch || mask.shape[1] !== past + length) {
      throw new Error(`forward: attentionMask has shape [${mask.shape.join(', ')}] but needs [${batch}, ${past + length}] (cached ${past} + new ${length})`);
    }
    const positions = tf.cast(tf.reshape(options.positions ?? positionsFromMask(mask, length), [-1]), 'int32') as tf.Tensor1D; // [B*T]
    return { batch, length, past, mask, positions, cache: options.cache, lastOnly: options.lastOnly ?? false };
  }

  /** Token embeddings, plus learned position embeddings (gpt2): ids [B, T] -> [B*T, C]. */
  private embed(ids: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const w = this.weights;
    const x = tf.gather(w.tok_emb, tf.reshape(tf.cast(ids, 'int32'), [-1])) as tf.Tensor2D;
    return LAYOUTS[this.config.arch].positions === 'learned' ? tf.add(x, tf.gather(w.pos_emb, pass.positions)) : x;
  }

  /** One pre-norm transformer block on x [B*T, C]: x + attention(norm(x)), then + mlp(norm(x)). */
  private block(layer: number, x: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const p = `layers.${layer}.`;
    const decoded = pass.cache && pass.length === 1 ? this.decodeBlock(layer, x, pass.cache, pass) : undefined;
    if (decoded) return decoded;
    const attended = tf.add(x, this.attention(layer, this.norm(x, `${p}ln1`, pass), pass)) as tf.Tensor2D;
    return tf.add(attended, this.mlp(p, this.norm(attended, `${p}ln2`, pass)));
  }

  /**
   * {@link block} as one op that keeps only its input x [B*T, C] for the backward pass and runs again there. The
   * pass's attention bias and rotary rows are made first, outside the op, so the recomputation reads the same ones.
   */
  private recomputedBlock(layer: number, x: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const bias = this.shareAcrossBlocks(pass);
    const constants = pass.rotaryRows ? [bias, pass.rotaryRows.cos, pass.rotaryRows.sin] : [bias];
    const block = (input: tf.Tensor, [bias, cos, sin]: tf.Tensor[]) =>
      this.block(layer, input as tf.Tensor2D, { ...pass, bias: bias as tf.Tensor3D, rotaryRows: cos && { cos: cos as tf.Tensor2D, sin: sin as tf.Tensor2D } });
    return recomputed(block, x, this.trainableWeights(`layers.${layer}.`), constants, this.adapter) as tf.Tensor2D;
  }

  /** The trainable variables whose names start with `prefix`: the adapter's when one is attached, else the model's. */
  trainableWeights(prefix: string): tf.Variable[] {
    return Object.entries(this.adapter?.weights ?? this.weights).filter(([name, v]) => name.startsWith(prefix) && v.trainable).map(([, v]) => v);
  }

  /** Rotary cos/sin rows [B*T, hs] at positions [B*T]. */
  private rotaryRowsAt(positions: tf.Tensor1D): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    return { cos: tf.gather(this.rotary!.cos, positions), sin: tf.gather(this.rotary!.sin, positions) };
  }

  /** Causal self-attention of layer `layer` on h [B*T, C] -> [B*T, C] (grouped-query heads, rotary q/k). */
  private attention(layer: number, h: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const { config } = this;
    const p = `layers.${layer}.`;
    let [q, k, v] = this.linear(h, `${p}attn.qkv`, pass); // [B*T, H*hs], [B*T, Hkv*hs], [B*T, Hkv*hs]
    if (this.rotary) {
      pass.rotaryRows ??= this.rotaryRowsAt(pass.positions); // [B*T, hs]
      q = applyRotary(q, config.nHeads, pass.rotaryRows.cos, pass.rotaryRows.sin, this.rotary.rotateHalf);
      k = applyRotary(k, config.nKvHeads, pass.rotaryRows.cos, pass.rotaryRows.sin, this.rotary.rotateHalf);
    }
    const attended = (pass.cache && pass.length === 1 && this.attendOne(pass.cache, layer, q, k, v, pass)) || this.attendAll(layer, q, k, v, pass); // [B*T, C]
    return this.linear(attended, `${p}attn.wo`, pass)[0];
  }

  /**
   * Decoding one token per row with a cache: the whole block as one kernel where there is one (no adapter), with the
   * same arithmetic as the ops of {@link block}; undefined otherwise.
   */
  private decodeBlock(layer: number, x: tf.Tensor2D, cache: KVCache, pass: Pass): tf.Tensor2D | undefined {
    const { config, weights: w } = this;
    if (this.adapter) return undefined;
    const p = `layers.${layer}.`;
    const wqkv = cache.derived(`${p}attn.wqkv`, () => tf.concat([w[`${p}attn.wq`], w[`${p}attn.wk`], w[`${p}attn.wv`]], 1));
    const bqkv = hasQKVBias(config.arch) ? cache.derived(`${p}attn.bqkv`, () => tf.concat([w[`${p}attn.bq`], w[`${p}attn.bk`], w[`${p}attn.bv`]])) : undefined;
    if (this.rotary) pass.rotaryRows ??= { cos: tf.gather(this.rotary.cos, pass.positions), sin: tf.gather(this.rotary.sin, pass.positions) }; // [B, hs]
    const weights = {
      ln1g: w[`${p}ln1.g`], ln1b: w[`${p}ln1.b`], wqkv, bqkv, wo: w[`${p}attn.wo`], bo: w[`${p}attn.bo`],
      ln2g: w[`${p}ln2.g`], ln2b: w[`${p}ln2.b`], wIn: w[`${p}mlp.w_in`], bIn: w[`${p}mlp.b_in`],
      wGate: w[`${p}mlp.w_gate`], wUp: w[`${p}mlp.w_up`], wOut: w[`${p}mlp.w_out`], bOut: w[`${p}mlp.b_out`],
      cos: pass.rotaryRows?.cos, sin: pass.rotaryRows?.sin, rotateHalf: this.rotary?.rotateHalf,
    };
    const { past, keyLength, slots } = cachedForStep(cache, layer, pass);
    const step = this.ops.decodeBlock(x, weights, pass.mask, past, { heads: config.nHeads, kvHeads: config.nKvHeads, eps: config.normEps, ...slots });
    if (!step) return undefined;
    cache.replace(layer, step.keys, step.values, keyLength, true);
    return step.out;
  }

  /** Decoding one token per row with a cache: attention and the cache's growth as one kernel, where there is one. */
  private attendOne(cache: KVCache, layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, pass: Pass): tf.Tensor2D | undefined {
    const { past, keyLength, slots } = cachedForStep(cache, layer, pass);
    const step = this.ops.decodeAttention({ q, k, v }, pass.mask, past, { heads: this.config.nHeads, kvHeads: this.config.nKvHeads, ...slots });
    if (!step) return undefined;
    cache.replace(layer, step.keys, step.values, keyLength, true);
    return step.out;
  }

  /** Reference attention: heads split out ([B, H, T, hs]), cached keys/values appended, masked softmax(q k^T) v. */
  private attendAll(layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const { config } = this;
    let keys = splitHeads(k, pass.batch, config.nKvHeads); // [B, Hkv, T, hs]
    let values = splitHeads(v, pass.batch, config.nKvHeads);
    if (pass.cache) ({ k: keys, v: values } = pass.cache.append(layer, keys, values)); // [B, Hkv, past + T, hs]
    pass.bias ??= attentionBias(pass.mask, pass.length, pass.past); // [B, T, past + T]
    return attention(splitHeads(q, pass.batch, config.nHeads), keys, values, pass.bias, pass.past);
  }

  /** The feed-forward part of block `p` on h [B*T, C] -> [B*T, C]: GELU (gpt2) or SwiGLU (llama, qwen2). */
  private mlp(p: string, h: tf.Tensor2D): tf.Tensor2D {
    const inner = LAYOUTS[this.config.arch].mlp === 'gelu'
      ? geluTanh(this.linear(h, `${p}mlp.w_in`)[0]) // [B*T, dFF]
      : swiGlu(this.linear(h, `${p}mlp.w_gate`)[0], this.linear(h, `${p}mlp.w_up`)[0]);
    return this.linear(inner as tf.Tensor2D, `${p}mlp.w_out`)[0];
  }

  /** LayerNorm (gpt2) or RMSNorm of x [B*T, C] with the gain (and shift) named `name`. */
  private norm(x: tf.Tensor2D, name: string, pass: Pass): tf.Tensor2D {
    const { config, weights: w } = this;
    const gain = w[`${name}.g`] as tf.Tensor1D;
    const shift = LAYOUTS[config.arch].norm === 'layer' ? (w[`${name}.b`] as tf.Tensor1D) : undefined;
    // Decoding (with a cache) takes no gradient: the norm may run as one kernel.
    const fast = pass.cache ? this.ops.norm(x, gain, shift, config.normEps) : undefined;
    return fast ?? (shift ? layerNorm(x, gain, shift, config.normEps) : rmsNorm(x, gain, config.normEps));
  }

  /** Logits from the final hidden rows [B*T, C] (the last row of each sequence with lastOnly): [B*T or B, V]. */
  private head(hidden: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const { batch, length } = pass;
    const rows = pass.lastOnly && length > 1 ? (tf.reshape(tf.slice(tf.reshape(hidden, [batch, length, -1]), [0, length - 1, 0], [-1, 1, -1]), [batch, -1]) as tf.Tensor2D) : hidden;
    // Tied and decoding: rows @ tok_emb^T with the transposed embedding made once per cache, unless logits are
    // taken in chunks (a vocabulary too large to hold twice): then the chunks' product, whose kernel keeps at most
    // one transposed copy for both (lib/kernels/batch-matmul.ts)
    if (pass.cache && this.config.tieEmbeddings && this.logitChunkRows <= 0) return tf.matMul(rows, pass.cache.outputProjection(this.weights.tok_emb as tf.Tensor2D));
    return this.logitsOf(rows);
  }

  /** Logits [N, V] of final hidden rows [N, C] (after the final norm): rows @ W_head, or rows @ tok_emb^T when tied. */
  logitsOf(rows: tf.Tensor2D): tf.Tensor2D {
    if (!this.config.tieEmbeddings) return this.linear(rows, 'lm_head')[0];
    return tf.matMul(rows, this.weights.tok_emb, false, true);
  }

  /** The trainable variables {@link logitsOf} reads (none under LoRA: its head is frozen). */
  headWeights(): tf.Variable[] {
    return this.trainableWeights(this.config.tieEmbeddings ? 'tok_emb' : 'lm_head');
  }

  /**
   * x [N, in] @ W [in, out] (+ b) for the projection `name`: every linear map of the model goes through here.
   * `layers.<i>.attn.qkv` is the queries, keys and values from one product with [wq | wk | wv] (and
   * [bq | bk | bv]), split back into three; fused at run time so the stored weights keep their names, and made once
   * per cache when decoding. Any other name is one weight, with the bias its layout gives it (`w…` -> `b…`).
   */
  protected linear(x: tf.Tensor2D, name: string, pass?: Pass): tf.Tensor2D[] {
    const w = this.weights;
    if (!name.endsWith('.qkv')) {
      const biasName = /\.w\w*$/.test(name) ? name.replace(/\.w(\w*)$/, '.b$1') : undefined;
      const bias = biasName === undefined ? undefined : (w[biasName] as tf.Tensor1D | undefined);
      return [this.adapt(name, x, linear(x, w[name] as tf.Tensor2D, bias))];
    }
    const { config } = this;
    const p = name.slice(0, -'qkv'.length);
    const derived = <T extends tf.Tensor>(key: string, make: () => T): T => (pass?.cache ? pass.cache.derived(key, make) : make());
    const weight = derived(`${p}wqkv`, () => tf.concat([w[`${p}wq`], w[`${p}wk`], w[`${p}wv`]], 1) as tf.Tensor2D);
    const bias = hasQKVBias(config.arch) ? derived(`${p}bqkv`, () => tf.concat([w[`${p}bq`], w[`${p}bk`], w[`${p}bv`]]) as tf.Tensor1D) : undefined;
    const headSize = config.dModel / config.nHeads;
    return tf.split(this.adapt(name, x, linear(x, weight, bias)), [config.nHeads * headSize, config.nKvHeads * headSize, config.nKvHeads * headSize], 1);
  }

  /** y [N, out] of projection `name` on x [N, in], changed by the adapter when there is one. */
  private adapt(name: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    return this.adapter ? this.adapter.apply(name, x, y) : y;
  }

  /** Scalar value per position from the last hidden states [B, T, d] -> [B, T] (the PPO critic). */
  value(hidden: tf.Tensor3D): tf.Tensor2D {
    const [batch, length, d] = hidden.shape;
    const v = linear(tf.reshape(hidden, [batch * length, d]), this.valueHeadWeights['value_head.w'] as tf.Tensor2D, this.valueHeadWeights['value_head.b'] as tf.Tensor1D);
    return tf.reshape(v, [batch, length]);
  }

  /** Continues text prompts, BOS first when the tokenizer adds one (see {@link generate}). */
  complete(tokenizer: Tokenizer, prompts: string[], options: GenerateOptions): Promise<Generation[]> {
    return generate(this, tokenizer, prompts, { ...options, addBos: tokenizer.addsBos });
  }

  /**
   * Scoring rows of prompt -> response pairs: [BOS] + prompt (its end kept when longer than maxSeqLen − 1, as
   * {@link generate} keeps it) + response.
   */
  scoringRows(tokenizer: Tokenizer, prompts: string[], responses: number[][]): ScoringRows {
    const contexts = prompts.map((p) => tokenizer.encode(p, { addBos: tokenizer.addsBos }).slice(-(this.config.maxSeqLen - 1)));
    return rowsOf(contexts, responses, tokenizer.padId);
  }

  /** Next-token log-probs (and entropies) of scoring rows ({@link scoreNextTokens}); hidden state [B, L − 1, d]. */
  scoreRows(rows: ScoringTensors, options: ScoreOptions = {}): ScoredRows {
    const [batch, length] = rows.ids.shape;
    const scores = scoreNextTokens(this, rows.ids, { attentionMask: rows.attentionMask, ...options });
    return { ...scores, hidden: tf.slice(scores.hidden, [0, 0, 0], [batch, length - 1, -1]) };
  }

  /** A new, empty KV cache for this model. */
  newCache(): KVCache {
    return new KVCache(this.config.nLayers, this.config.maxSeqLen);
  }

  /** Number of LM parameters (the value head excluded). */
  numParams(): number {
    return Object.values(this.weights).reduce((n, v) => n + v.size, 0);
  }

  /** A frozen copy (non-trainable variables with the same values, the same settings), e.g. the PPO reference model. */
  clone(): CausalLM {
    const copy = (vars: Record<string, tf.Variable>): Record<string, tf.Variable> => {
      const prefix = `causal_lm_${modelCount++}`;
      return Object.fromEntries(Object.entries(vars).map(([name, v]) => [name, tf.variable(v, false, `${prefix}/${name}`)]));
    };
    return this.withSettings(new CausalLM(this.config, copy(this.weights), copy(this.valueHeadWeights)));
  }

  /** `other` with this model's kernels and memory settings (recomputed blocks, logit chunks), e.g. RL's reference. */
  private withSettings(other: CausalLM): CausalLM {
    other.ops = this.ops;
    other.gradientCheckpointing = this.gradientCheckpointing;
    other.logitChunkRows = this.logitChunkRows;
    return other;
  }

  /** Host copies of every weight (LM and value head) by native name. */
  async toArrays(): Promise<WeightArrays> {
    const out: WeightArrays = new Map();
    for (const [name, v] of [...Object.entries(this.weights), ...Object.entries(this.valueHeadWeights)]) {
      out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return out;
  }

  /**
   * The same model without its adapter, sharing every weight (no copy) and its settings: with LoRA, the base model,
   * e.g. RL's frozen reference. Disposing the view frees nothing of the original's.
   */
  withoutAdapter(): CausalLM {
    const base = this.withSettings(new CausalLM(this.config, this.weights, this.valueHeadWeights));
    base.view = true;
    return base;
  }

  dispose(): void {
    if (!this.view) for (const v of [...Object.values(this.weights), ...Object.values(this.valueHeadWeights)]) v.dispose();
    this.adapter?.dispose();
    if (this.rotary) for (const t of Object.values(this.rotary)) t.dispose();
  }
}

import * as tf from '@tensorflow/tfjs';

/**
 * Keys and values of every layer for the tokens seen so far, so each decoding step runs the model on the new tokens
 * only. A layer's values are [B, Hkv, slots, headSize] and its keys the same, or [B, Hkv, headSize, slots] where
 * the decoding kernels wrote them (`keysTransposed`); the first `filled` positions hold the tokens seen. Those
 * kernels allocate free slots ahead (doubling, see {@link KVCache.slotsFor}) and write each step's position into
 * them in place, so a step does not copy the whole cache. The cache owns its tensors (kept outside any tf.tidy);
 * call {@link KVCache.dispose} when done.
 */
export class KVCache {
  private readonly keys: (tf.Tensor4D | undefined)[];
  private readonly values: (tf.Tensor4D | undefined)[];
  private readonly filled: number[];
  private readonly transposed: boolean[];
  /** Number of positions (columns of the attention mask) already stored. */
  length = 0;
  /** Tensors derived from the weights (fused projections, the tied output projection), made once per cache. */
  private readonly derivedTensors = new Map<string, tf.Tensor>();

  /** `maxSlots`: allocate at most this many positions ahead (the model's maxSeqLen), unless more are filled. */
  constructor(nLayers: number, private readonly maxSlots = Infinity) {
    this.keys = new Array(nLayers).fill(undefined);
    this.values = new Array(nLayers).fill(undefined);
    this.filled = new Array(nLayers).fill(0);
    this.transposed = new Array(nLayers).fill(false);
  }

  /** Appends layer `layer`'s new keys/values along the sequence axis and returns the filled ones [B, Hkv, S, h]. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const past = this.layer(layer);
    if (!past) {
      this.replace(layer, k, v);
    } else {
      const grown = (stored: tf.Tensor4D, step: tf.Tensor4D, transposed: boolean) => tf.tidy(() => {
        const rows = transposed ? tf.transpose(stored, [0, 1, 3, 2]) : stored; // [B, Hkv, slots, h]
        return tf.concat([rows.shape[2] === past.filled ? rows : tf.slice(rows, [0, 0, 0, 0], [-1, -1, past.filled, -1]), step], 2);
      });
      this.replace(layer, grown(past.k, k, past.keysTransposed), grown(past.v, v, false));
    }
    return this.layer(layer)!;
  }

  /**
   * Layer `layer`'s cached keys and values: values [B, Hkv, slots, h], keys the same or [B, Hkv, h, slots] when
   * `keysTransposed`; `filled` of the `slots` positions hold tokens (the rest are free). Undefined before the layer's
   * first append.
   */
  layer(layer: number): { k: tf.Tensor4D; v: tf.Tensor4D; filled: number; slots: number; keysTransposed: boolean } | undefined {
    const [k, v] = [this.keys[layer], this.values[layer]];
    return k && v ? { k, v, filled: this.filled[layer], slots: v.shape[2], keysTransposed: this.transposed[layer] } : undefined;
  }

  /**
   * Stores `k`, `v` (the layer's keys/values grown by this step, e.g. by a kernel that appends while it attends;
   * `filled` of their positions hold tokens, all of them by default; keys [B, Hkv, h, slots] when `keysTransposed`)
   * in place of the layer's current ones, which are disposed unless they are the same tensors; the cache keeps the
   * new ones past any tf.tidy.
   */
  replace(layer: number, k: tf.Tensor4D, v: tf.Tensor4D, filled = v.shape[2], keysTransposed = false): void {
    const old = [this.keys[layer], this.values[layer]];
    this.keys[layer] = tf.keep(k);
    this.values[layer] = tf.keep(v);
    this.filled[layer] = filled;
    this.transposed[layer] = keysTransposed;
    for (const t of old) if (t !== k && t !== v) t?.dispose();
  }

  /**
   * Slots to allocate when a layer must grow to hold `length` positions: twice as many, so that a generation of n
   * tokens copies its cache O(log n) times, but no more than the cache's bound unless `length` itself exceeds it.
   */
  slotsFor(length: number): number {
    return Math.max(length, Math.min(2 * length, this.maxSlots));
  }

  /**
   * The tensor `make()` returns, made on first use under `key` and kept until {@link KVCache.dispose}: weights
   * do not change while a cache decodes, so what is derived from them (a fused projection, a transpose) is
   * computed once per generation instead of once per token. No gradient flows through it.
   */
  derived<T extends tf.Tensor>(key: string, make: () => T): T {
    let tensor = this.derivedTensors.get(key);
    if (!tensor) {
      tensor = tf.keep(make());
      this.derivedTensors.set(key, tensor);
    }
    return tensor as T;
  }

  /** tok_emb^T [d, V], transposed on first use and kept (see {@link KVCache.derived}). */
  outputProjection(embedding: tf.Tensor2D): tf.Tensor2D {
    return this.derived('tied_head', () => tf.transpose(embedding));
  }

  dispose(): void {
    for (const t of this.derivedTensors.values()) t.dispose();
    this.derivedTensors.clear();
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.filled.fill(0);
    this.transposed.fill(false);
    this.length = 0;
  }
}

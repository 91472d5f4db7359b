import * as tf from '@tensorflow/tfjs';

/**
 * Keys and values of every layer for the tokens seen so far, [B, Hkv, S, headSize] per layer, so each decoding
 * step runs the model on the new tokens only. The cache owns its tensors (kept outside any tf.tidy); call
 * {@link KVCache.dispose} when done.
 */
export class KVCache {
  private readonly keys: (tf.Tensor4D | undefined)[];
  private readonly values: (tf.Tensor4D | undefined)[];
  /** Number of positions (columns of the attention mask) already stored. */
  length = 0;
  /** Tensors derived from the weights (fused projections, the tied output projection), made once per cache. */
  private readonly derivedTensors = new Map<string, tf.Tensor>();

  constructor(nLayers: number) {
    this.keys = new Array(nLayers).fill(undefined);
    this.values = new Array(nLayers).fill(undefined);
  }

  /** Appends layer `layer`'s new keys/values along the sequence axis and returns the full ones. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const past = this.layer(layer);
    this.replace(layer, past ? tf.concat([past.k, k], 2) : k, past ? tf.concat([past.v, v], 2) : v);
    return this.layer(layer)!;
  }

  /** Layer `layer`'s cached keys and values [B, Hkv, S, h], or undefined before its first append. */
  layer(layer: number): { k: tf.Tensor4D; v: tf.Tensor4D } | undefined {
    const [k, v] = [this.keys[layer], this.values[layer]];
    return k && v ? { k, v } : undefined;
  }

  /**
   * Stores `k`, `v` (the layer's keys/values grown by this step, e.g. by a kernel that appends while it attends)
   * in place of the layer's current ones, which are disposed; the cache keeps the new ones past any tf.tidy.
   */
  replace(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): void {
    const old = [this.keys[layer], this.values[layer]];
    this.keys[layer] = tf.keep(k);
    this.values[layer] = tf.keep(v);
    for (const t of old) if (t !== k && t !== v) t?.dispose();
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
    this.length = 0;
  }
}

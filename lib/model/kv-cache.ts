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
  /** The tied output projection tok_emb^T [d, V], made once per cache: weights do not change while decoding. */
  private tiedHead?: tf.Tensor2D;

  constructor(nLayers: number) {
    this.keys = new Array(nLayers).fill(undefined);
    this.values = new Array(nLayers).fill(undefined);
  }

  /** Appends layer `layer`'s new keys/values along the sequence axis and returns the full ones. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const grow = (old: tf.Tensor4D | undefined, fresh: tf.Tensor4D): tf.Tensor4D => {
      const full = tf.keep(old ? tf.concat([old, fresh], 2) : fresh);
      old?.dispose();
      return full;
    };
    this.keys[layer] = grow(this.keys[layer], k);
    this.values[layer] = grow(this.values[layer], v);
    return { k: this.keys[layer]!, v: this.values[layer]! };
  }

  /** tok_emb^T, transposed on first use and kept (a cache is for inference only: no gradient flows through it). */
  outputProjection(embedding: tf.Tensor2D): tf.Tensor2D {
    this.tiedHead ??= tf.keep(tf.transpose(embedding));
    return this.tiedHead;
  }

  dispose(): void {
    this.tiedHead?.dispose();
    this.tiedHead = undefined;
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.length = 0;
  }
}

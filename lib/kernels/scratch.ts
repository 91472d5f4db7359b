/** Values per chunk for kernels that compute through {@link Scratch} arrays. */
export const CHUNK = 1 << 14;

/**
 * Reusable float32 scratch arrays for a kernel to copy chunks of its heap inputs into and compute in: a JS loop
 * that loads from views of the wasm heap and stores into one ran at about half the speed of the same loop over
 * ordinary arrays (GeluTanhGrad, RowNormGrad), while the copies are memcpy-fast. Copying whole inputs instead
 * (`slice`) allocates megabytes per call and was slower again under garbage collection.
 */
export class Scratch {
  private arrays: Float32Array[];

  constructor(count: number) {
    this.arrays = Array.from({ length: count }, () => new Float32Array(CHUNK));
  }

  /** The arrays, each at least `length` values long (grown when a call needs more). */
  get(length: number): Float32Array[] {
    if (this.arrays[0].length < length) this.arrays = this.arrays.map(() => new Float32Array(length));
    return this.arrays;
  }
}

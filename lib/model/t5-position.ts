/**
 * T5's relative position buckets (Raffel et al., 2020, sec. 2.1; `_relative_position_bucket` in HF modeling_t5):
 * a key at offset r = key - query from its query falls into one of `buckets` buckets, exact for small |r| and
 * log-spaced up to `maxDistance`, beyond which all offsets share the last bucket. The encoder is bidirectional
 * (half the buckets for r > 0); the decoder is causal and only buckets r <= 0.
 */

/**
 * The bucket of one offset r = key position - query position. The log branch is evaluated in float32 steps
 * (Math.fround) as PyTorch does, so the integer cut lands where HF's does at bucket boundaries.
 */
export function relativeBucket(offset: number, bidirectional: boolean, buckets: number, maxDistance: number): number {
  let bucket = 0;
  let n = buckets;
  let distance: number;
  if (bidirectional) {
    n = buckets / 2;
    if (offset > 0) bucket += n;
    distance = Math.abs(offset);
  } else {
    distance = Math.max(-offset, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (distance < maxExact) return bucket + distance;
  // maxExact + log(distance / maxExact) / log(maxDistance / maxExact) * (n - maxExact), truncated, capped at n - 1
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(distance / maxExact))) / f(Math.log(maxDistance / maxExact))) * (n - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), n - 1);
}

/**
 * Bucket ids [queries * keys] (row-major) for queries at positions [firstQuery, firstQuery + queries) against
 * keys at positions [0, keys).
 */
export function relativeBucketGrid(
  queries: number, keys: number, firstQuery: number, bidirectional: boolean, buckets: number, maxDistance: number,
): Int32Array {
  const grid = new Int32Array(queries * keys);
  for (let t = 0; t < queries; t++) {
    for (let s = 0; s < keys; s++) grid[t * keys + s] = relativeBucket(s - (firstQuery + t), bidirectional, buckets, maxDistance);
  }
  return grid;
}

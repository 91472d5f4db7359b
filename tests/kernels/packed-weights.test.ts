import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { packedWeights } from '../../lib/kernels';
import { trackTensorBytes } from '../../lib/model/memory';

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
});

afterEach(() => {
  packedWeights.budget = Number.POSITIVE_INFINITY;
  packedWeights.clear();
});

const MiB = 1024 * 1024;
/** A weight of 32 MiB ([1024, 8192] float32) and rows to multiply by it. */
const weight = (seed: number) => tf.tidy(() => tf.sin(tf.add(tf.reshape(tf.range(0, 1024 * 8192, 1, 'float32'), [1024, 8192]), seed)));
const rows = () => tf.tidy(() => tf.cos(tf.reshape(tf.range(0, 8 * 1024, 1, 'float32'), [8, 1024])));

test('weights past the budget are repacked on each use: the same products, and the heap holds one packed copy at a time instead of one per weight', () => {
  const tracker = trackTensorBytes(tf.backend());
  const x = rows();
  const heapAt = () => tracker.heapBytes;

  packedWeights.budget = 0;
  const dropped = [1, 2, 3, 4, 5, 6].map(weight);
  const start = heapAt();
  const first = dropped.map((w) => tf.matMul(x, w));
  const again = dropped.map((w) => tf.matMul(x, w));
  const droppedGrowth = heapAt() - start;
  expect(packedWeights.held).toBe(0);

  packedWeights.budget = Number.POSITIVE_INFINITY;
  const kept = [1, 2, 3, 4, 5, 6].map(weight); // the same values, new buffers
  const before = heapAt();
  const keptProducts = kept.map((w) => tf.matMul(x, w));
  const keptGrowth = heapAt() - before;
  tracker.stop();
  for (let i = 0; i < 6; i++) {
    expect(Array.from(again[i].dataSync())).toEqual(Array.from(first[i].dataSync()));
    expect(Array.from(keptProducts[i].dataSync())).toEqual(Array.from(first[i].dataSync()));
  }
  // 6 x 32 MiB of weights either way; packed copies: one at a time when dropped (the heap grows in steps, so
  // allow two), six when kept
  expect(droppedGrowth).toBeLessThan((6 * 32 + 2 * 32 + 8) * MiB);
  expect(keptGrowth - droppedGrowth).toBeGreaterThan(3 * 32 * MiB);
  tf.dispose([x, ...dropped, ...kept, ...first, ...again, ...keptProducts]);
});

test('the budget keeps the first weights that fit and frees their share when they are disposed', () => {
  packedWeights.budget = 40 * MiB;
  const x = rows();
  const [a, b] = [weight(4), weight(5)];
  tf.dispose([tf.matMul(x, a), tf.matMul(x, b), tf.matMul(x, a)]);
  expect(packedWeights.held).toBe(32 * MiB); // a's; b's is over the budget
  a.dispose();
  tf.dispose(tf.matMul(x, b)); // a's share is released, and b now fits
  expect(packedWeights.held).toBe(32 * MiB);
  b.dispose();
  const c = weight(6);
  tf.dispose(tf.matMul(x, c));
  expect(packedWeights.held).toBe(32 * MiB);
  tf.dispose([x, c]);
});

test('a kept operand\'s packed copy stays from its first product on, ahead of the first-come ones, and its share is freed with it', () => {
  packedWeights.budget = 40 * MiB;
  const x = rows();
  const [first, pinned] = [weight(7), weight(8)];
  packedWeights.keep(pinned);
  expect(packedWeights.held).toBe(32 * MiB);
  tf.dispose([tf.matMul(x, first), tf.matMul(x, pinned)]); // first is over what the kept one leaves: dropped
  expect(packedWeights.held).toBe(32 * MiB);
  const tracker = trackTensorBytes(tf.backend());
  const heap = tracker.heapBytes;
  const again = Array.from({ length: 4 }, () => tf.matMul(x, pinned)); // no repack, no heap growth
  expect(tracker.heapBytes).toBe(heap);
  tracker.stop();
  pinned.dispose();
  tf.dispose(tf.matMul(x, first)); // the kept share released with its tensor: first fits now
  expect(packedWeights.held).toBe(32 * MiB);
  tf.dispose([x, first, ...again]);
});

test('the tensor-bytes tracker keeps counting when the module rebinds its allocator on first use', () => {
  // Emscripten's lazy binding: the first call replaces the module's _malloc/_free by the raw exports.
  let next = 8;
  const raw = { malloc: (bytes: number) => { const at = next; next += bytes; return at; }, free: (_offset: number) => undefined };
  const module: Record<string, unknown> = { HEAPU8: new Uint8Array(16) };
  module._malloc = (bytes: number) => { module._malloc = raw.malloc; return raw.malloc(bytes); };
  module._free = (offset: number) => { module._free = raw.free; raw.free(offset); };
  const tracker = trackTensorBytes({ wasm: module });
  const malloc = () => (module._malloc as (n: number) => number);
  const free = () => (module._free as (n: number) => void);
  const a = malloc()(100);
  const b = malloc()(50);
  expect(tracker.current).toBe(150);
  free()(a);
  free()(b);
  expect(tracker.current).toBe(0);
  expect(tracker.peak).toBe(150);
  tracker.stop();
  expect(module._malloc).toBe(raw.malloc);
  malloc()(10);
  expect(tracker.current).toBe(0);
});

describe('a few rows times a large transposed matrix (a tied head: logits in chunks, decoding)', () => {
  /** b [2048, 64] (past the size whose transpose is kept), rows [m, 64]: the inputs of logits = rows @ b^T. */
  const head = () => tf.tidy(() => tf.sin(tf.mul(tf.reshape(tf.range(0, 2048 * 64, 1, 'float32'), [2048, 64]), 0.37)));
  const rowsOf = (m: number) => tf.tidy(() => tf.cos(tf.mul(tf.reshape(tf.range(0, m * 64, 1, 'float32'), [m, 64]), 0.11)));

  test.each([1, 3, 8, 64])('%i rows: under a budget, computed as (B A^T)^T with no copy of B held, bit-identical to the product by an explicit transpose and to the kept copy', (m) => {
    const b = head();
    const x = rowsOf(m);
    const explicitT = tf.transpose(b);
    const reference = tf.matMul(x, explicitT); // [m, 2048]: XNNPACK with b^T as its packed right operand
    const want = Array.from(reference.dataSync());
    explicitT.dispose();

    packedWeights.budget = 0;
    const viaTransposedRows = tf.tidy(() => tf.matMul(tf.transpose(x), b, true, true)); // transposeA as well
    const tracker = trackTensorBytes(tf.backend());
    const before = tracker.current;
    const swapped = tf.matMul(x, b, false, true);
    const afterSwapped = tracker.current;
    packedWeights.budget = Number.POSITIVE_INFINITY;
    const cached = tf.matMul(x, b, false, true);
    const afterCached = tracker.current;
    tracker.stop();

    expect(swapped.shape).toEqual([m, 2048]);
    expect(Array.from(swapped.dataSync())).toEqual(want);
    expect(Array.from(viaTransposedRows.dataSync())).toEqual(want);
    expect(Array.from(cached.dataSync())).toEqual(want);
    // under the budget only the output stays; with every packed copy kept, the transposed copy [64, 2048] too
    expect(afterSwapped - before).toBe(4 * m * 2048);
    expect(afterCached - afterSwapped).toBe(4 * m * 2048 + 4 * 2048 * 64);
    tf.dispose([b, x, reference, swapped, viaTransposedRows, cached]);
  });

  test('batched rows [2, 3, 64] x b^T fold into 6 rows, bit-identical; a wrong inner size is refused', () => {
    const b = head();
    const x = tf.reshape(rowsOf(6), [2, 3, 64]);
    const want = Array.from(tf.tidy(() => tf.matMul(x, tf.transpose(b))).dataSync());
    packedWeights.budget = 0;
    const got = tf.matMul(x, b, false, true);
    expect(got.shape).toEqual([2, 3, 2048]);
    expect(Array.from(got.dataSync())).toEqual(want);
    expect(() => tf.matMul(tf.zeros([3, 63]), b, false, true)).toThrow(/inner/);
    tf.dispose([b, x, got]);
  });
});

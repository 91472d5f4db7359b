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

/**
 * XNNPACK's thread pool on the wasm backend in Node: starting the threaded build (which tfjs-backend-wasm 4.22 turns
 * off in Node), and running a phase of work (decoding) on the calling thread alone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';

/** The most XNNPACK threads tfjs-backend-wasm 4.22 starts (its worker pool has eight). */
export const MAX_WASM_THREADS = 8;

/**
 * Runs `start` (which starts the threaded wasm backend) so that its worker threads can load in Node.
 *
 * tfjs-backend-wasm hands emscripten the pthread worker's script as a Blob URL, and each worker then loads the
 * module's main script from another Blob with `importScripts` (a `readFileSync` in Node); Node can do neither.
 * While `start` runs, `URL.createObjectURL` (called only for the worker script then) answers with a temporary
 * file holding the package's own worker script, prefixed so that inside the worker the main script's "object
 * URL" is the package's unbundled `wasm-out/tfjs-backend-wasm-threaded-simd.js`; and `os.cpus()` lists every CPU
 * twice, because tfjs caps the pool at half the logical CPUs (it assumes two hardware threads per core). The
 * file is removed when `start` has finished: emscripten loads its whole worker pool before the module resolves.
 */
export async function withThreadedWasmLoader<T>(start: () => Promise<T>): Promise<T> {
  const wasmOut = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const { wasmWorkerContents } = require(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const mainScript = path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  const folder = mkdtempSync(path.join(os.tmpdir(), 'rrl-wasm-'));
  const workerPath = path.join(folder, 'worker.js');
  // The script's string literals hold "\n" escapes that tfjs also keeps escaped when it makes its Blob.
  const prelude = `URL.createObjectURL=()=>${JSON.stringify(mainScript)};URL.revokeObjectURL=()=>{};\n`;
  writeFileSync(workerPath, prelude + wasmWorkerContents.replace(/\n/g, '\\n'));
  const originalCreate = URL.createObjectURL;
  const originalCpus = os.cpus;
  URL.createObjectURL = () => workerPath;
  os.cpus = () => [...originalCpus(), ...originalCpus()];
  try {
    return await start();
  } finally {
    URL.createObjectURL = originalCreate;
    os.cpus = originalCpus;
    rmSync(folder, { recursive: true, force: true });
  }
}

/** One XNNPACK thread per available CPU, at most {@link MAX_WASM_THREADS}. */
export function availableWasmThreads(): number {
  return Math.min(os.availableParallelism(), MAX_WASM_THREADS);
}

/** What of the threaded wasm module {@link locateThreadCount} reads. */
export interface ThreadedWasmModule {
  wasmMemory: { buffer: ArrayBufferLike };
  tfjs: { getThreadsCount(): number };
}

/** Where the running pool keeps its thread count: a 32-bit word of the wasm heap, and the pool's real size. */
let poolCount: { memory: { buffer: ArrayBufferLike }; index: number; threads: number } | undefined;

/**
 * Finds the thread count of XNNPACK's pool (pthreadpool's `threads_count`) in the wasm heap, so that
 * {@link withWasmThreads} can run work on the calling thread alone: pthreadpool runs a parallel loop inline when the
 * count is 1, and XNNPACK splits products into tiles by columns only, so the results do not change. The word is
 * found as the one that holds the pool size and whose change `get_threads_count()` (which reads the field) reports;
 * each candidate is restored at once. Returns whether it was found (a build where it is not keeps the full pool).
 */
export function locateThreadCount(module: ThreadedWasmModule): boolean {
  const threads = module.tfjs.getThreadsCount();
  poolCount = undefined;
  if (threads <= 1) return false;
  const words = new Uint32Array(module.wasmMemory.buffer);
  for (let i = words.indexOf(threads); i >= 0; i = words.indexOf(threads, i + 1)) {
    words[i] = 1;
    const isCount = module.tfjs.getThreadsCount() === 1;
    words[i] = threads;
    if (isCount) {
      poolCount = { memory: module.wasmMemory, index: i, threads };
      return true;
    }
  }
  return false;
}

/** XNNPACK threads the wasm backend's products run on now (1 without the threaded build). */
export function wasmThreads(): number {
  return poolCount ? new Uint32Array(poolCount.memory.buffer)[poolCount.index] : 1;
}

/**
 * Runs `work` with XNNPACK's pool limited to `threads` (1: the calling thread alone), then restores the pool's
 * size. Decoding runs this way: its products are a few rows, and waking a second thread for each of them cost
 * more than it saved (S sampling fell to 0.2-0.5x of one thread). Without the threaded build it just runs `work`.
 */
export function withWasmThreads<T>(threads: number, work: () => T): T {
  if (!poolCount) return work();
  const words = new Uint32Array(poolCount.memory.buffer);
  const before = words[poolCount.index];
  words[poolCount.index] = Math.max(1, Math.min(threads, poolCount.threads));
  try {
    return work();
  } finally {
    new Uint32Array(poolCount.memory.buffer)[poolCount.index] = before;
  }
}

/**
 * Runs a training step's kernels (forward, backward, clipping, the update; RL's scoring passes) with XNNPACK's pool on
 * the calling thread except for products large enough for {@link runProduct}: waking the pool for each element-wise kernel cost more
 * than the kernel (an S step's 81 `Square`s, when clipping still squared each gradient: 21 ms with the pool, 4.7 ms
 * without, in `npm run bench:model -- --profile` with RRL_WASM_THREADS=2). The same results: the thread count never changes them.
 */
export function trainingKernels<T>(work: () => T): T {
  return withWasmThreads(1, work);
}

/**
 * Products of at least this many multiply-adds run on XNNPACK's whole pool even inside `withWasmThreads(1, ...)`:
 * a GPT-2-124M decoding step's products (8 rows by 768 x 768 to 768 x 50257 weights, 4.7M to 309M) are long
 * enough to share with a second thread, where an S decoding step's (8 x 128 x 512 at most, 0.5M) are not.
 */
export const POOLED_PRODUCT_MACS = 1 << 22;

/** Threads a product of `macs` multiply-adds runs on: the whole pool when it is large, else the pool's count now. */
export function productThreads(macs: number): number {
  return poolCount && macs >= POOLED_PRODUCT_MACS ? poolCount.threads : wasmThreads();
}

/** Runs `work` on XNNPACK's whole pool when `size` is at least `threshold`, else on the pool as it is now. */
function onWholePoolFrom<T>(threshold: number, size: number, work: () => T): T {
  return poolCount && size >= threshold ? withWasmThreads(poolCount.threads, work) : work();
}

/**
 * Runs `product` (one XNNPACK product of `macs` multiply-adds) on {@link productThreads} threads: the whole pool
 * when it is at least {@link POOLED_PRODUCT_MACS}, else the pool as it is now. Results do not depend on the count.
 */
export function runProduct<T>(macs: number, product: () => T): T {
  return onWholePoolFrom(POOLED_PRODUCT_MACS, macs, product);
}

/**
 * Kernels with an exp per value (`Softmax`, `Sigmoid`) on at least this many values run on XNNPACK's whole pool
 * even inside {@link trainingKernels}: they are bound by arithmetic, and two threads halve them (attention's
 * softmax over [16, 4, 128, 128], GELU's sigmoid over [2048, 512]), where adds and products of two tensors are
 * bound by memory and gain nothing.
 */
export const POOLED_EXP_VALUES = 1 << 18;

/** Runs `kernel` (an XNNPACK kernel with an exp per value, over `values` values) on the whole pool when it is large. */
export function runExpKernel<T>(values: number, kernel: () => T): T {
  return onWholePoolFrom(POOLED_EXP_VALUES, values, kernel);
}

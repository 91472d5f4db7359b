import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './kernels';
import { logger } from './log/logger';
import { availableWasmThreads, locateThreadCount, MAX_WASM_THREADS, type ThreadedWasmModule, withThreadedWasmLoader } from './wasm-threads';

export { registerWasmKernels, setFastWasmKernels, fastWasmKernelsOn, PINNED_WASM_VERSION } from './kernels';

/** A backend choice: `auto` tries them fastest first; `tensorflow` is tfjs-node(-gpu) (native TensorFlow). */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The backend in use and why it was chosen (including why faster ones were skipped). */
export interface BackendInfo {
  /** tfjs backend name: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  reason: string;
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** Optional native packages, fastest first; never dependencies of this package, used when installed. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let chosen: Promise<BackendInfo> | undefined;

/**
 * Chooses and initialises the tfjs backend once per process: `@tensorflow/tfjs-node-gpu`, then
 * `@tensorflow/tfjs-node` (each only if installed), then wasm (SIMD, with the project's kernels: see
 * `registerWasmKernels`), then the pure-JS cpu backend. The env variable `RRL_BACKEND` (`auto|tensorflow|wasm|cpu`)
 * overrides `preference`. wasm computes on one thread unless `RRL_WASM_THREADS` (`auto` or 1-8) asks for XNNPACK's
 * thread pool (decoding still runs on one: see `withWasmThreads`). Logs the choice and the reason; later calls
 * return the first result.
 *
 * ```ts
 * const { name, reason } = await initBackend();   // e.g. { name: 'wasm', reason: 'tfjs-node-gpu: not installed; ...' }
 * ```
 */
export function initBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  chosen ??= choose(preference).then((info) => {
    logger.info(`tfjs backend: ${info.name} (${info.reason})`);
    return info;
  }, (err: unknown) => {
    chosen = undefined; // a failed choice (e.g. a bad RRL_BACKEND) may be retried once fixed
    throw err;
  });
  return chosen;
}

function parsePreference(preference: string, source: string): BackendPreference {
  if (!(PREFERENCES as readonly string[]).includes(preference)) {
    throw new Error(`${source}: unknown backend '${preference}' (expected one of ${PREFERENCES.join(', ')})`);
  }
  return preference as BackendPreference;
}

async function choose(requested: BackendPreference): Promise<BackendInfo> {
  const fromEnv = process.env.RRL_BACKEND;
  const preference = fromEnv ? parsePreference(fromEnv, 'RRL_BACKEND') : parsePreference(requested, 'initBackend');
  const skipped: string[] = [];
  const because = (why: string) => [...skipped, why].join('; ');
  const source = fromEnv ? `RRL_BACKEND=${fromEnv}` : `preference '${preference}'`;

  if (preference === 'auto' || preference === 'tensorflow') {
    for (const pkg of NATIVE_PACKAGES) {
      const failure = await tryNative(pkg);
      if (failure === undefined) return { name: 'tensorflow', reason: because(`${pkg}: native TensorFlow`) };
      skipped.push(`${pkg}: ${failure}`);
    }
    if (preference === 'tensorflow') {
      throw new Error(`${source}: no native TensorFlow backend could be loaded (${skipped.join('; ')})`);
    }
  }
  if (preference === 'auto' || preference === 'wasm') {
    const threads = requestedWasmThreads();
    const failure = await tryWasm(threads);
    if (failure === undefined) {
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
      const pool = getThreadsCount();
      const count = pool === 1 ? '1 thread' : `${pool} threads (decoding on 1)`;
      return { name: 'wasm', reason: because(`wasm: XNNPACK, ${simd}, ${count}, project kernels registered`) };
    }
    if (preference === 'wasm') throw new Error(`${source}: the wasm backend failed to start: ${failure}`);
    skipped.push(`wasm: ${failure}`);
  }
  await tf.setBackend('cpu');
  return { name: 'cpu', reason: because(preference === 'cpu' ? `requested by ${source}` : 'cpu: the fallback (pure JS, slow)') };
}

/** Loads an optional tfjs-node package and switches to its backend; returns why not, or undefined on success. */
async function tryNative(pkg: string): Promise<string | undefined> {
  try {
    require.resolve(pkg);
  } catch {
    return 'not installed';
  }
  try {
    require(pkg); // registers the 'tensorflow' backend with the tfjs-core it depends on
    if (tf.findBackendFactory('tensorflow') === null) return 'loaded, but registered with another copy of tfjs-core';
    return (await tf.setBackend('tensorflow')) ? undefined : 'installed, but failed to initialise';
  } catch (err) {
    return `installed, but failed to load: ${(err as Error).message.split('\n')[0]}`;
  }
}

/**
 * XNNPACK threads for the wasm backend from `RRL_WASM_THREADS`: a whole number from 1 to 8, or `auto` (one per
 * available CPU, at most 8); unset, 1. Anything else is an error naming the variable.
 */
function requestedWasmThreads(): number {
  const fromEnv = process.env.RRL_WASM_THREADS;
  if (fromEnv === undefined || fromEnv === '') return 1;
  if (fromEnv === 'auto') return availableWasmThreads();
  const threads = Number(fromEnv);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(`RRL_WASM_THREADS: '${fromEnv}' is not 'auto' or a whole number of threads from 1 to ${MAX_WASM_THREADS}`);
  }
  return threads;
}

/**
 * Starts the wasm backend from the package's own .wasm files (so any working directory works): the
 * single-threaded build for one thread, else the threaded build with an XNNPACK pool of `threads` (see
 * {@link withThreadedWasmLoader}), whose worker threads are unreferenced so that they never keep the process alive.
 */
async function tryWasm(threads: number): Promise<string | undefined> {
  try {
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    setWasmPaths(dist + path.sep);
    // tfjs 4.22 turns threads off in Node (it cannot load its workers there); withThreadedWasmLoader can.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
    setThreadsCount(threads);
    registerWasmKernels();
    const start = () => tf.setBackend('wasm');
    const started = await withoutNewProcessHandlers(threads > 1 ? () => withThreadedWasmLoader(start) : start);
    if (!started) return 'failed to initialise';
    const module = (tf.backend() as BackendWasm).wasm as unknown as ThreadedWasmModule & { PThread?: { runningWorkers: { unref(): void }[] } };
    for (const worker of module.PThread?.runningWorkers ?? []) worker.unref();
    if (threads > 1 && !locateThreadCount(module)) logger.warn('wasm: the thread pool\'s size was not found in the heap; decoding runs on every thread');
    return undefined;
  } catch (err) {
    return `failed to load: ${(err as Error).message.split('\n')[0]}`;
  }
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Run `start`, then remove the `uncaughtException` / `unhandledRejection` listeners it added. The wasm backend's
 * emscripten module installs listeners that rethrow every error from inside the listener, so Node reports the throw
 * site, one ~39 KB line of minified source, instead of the error; without them Node prints the error and its stack
 * as usual (its exit-status handling matters only for `exit()` from compiled code, which tfjs never calls).
 */
async function withoutNewProcessHandlers<T>(start: () => Promise<T>): Promise<T> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  try {
    return await start();
  } finally {
    for (const event of PROCESS_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

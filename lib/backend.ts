import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './kernels';
import { logger } from './log/logger';

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
 * `@tensorflow/tfjs-node` (each only if installed), then wasm (SIMD, single-threaded, with the project's
 * kernels: see `registerWasmKernels`), then the pure-JS cpu backend. The env variable `RRL_BACKEND`
 * (`auto|tensorflow|wasm|cpu`) overrides `preference`. Logs the choice and the reason; later calls return the
 * first result.
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
    const failure = await tryWasm();
    if (failure === undefined) {
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
      return {
        name: 'wasm',
        reason: because(`wasm: XNNPACK, ${simd}, 1 thread (threads slow down small-batch sampling and keep `
          + 'the process alive), project kernels registered'),
      };
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

/** Starts the wasm backend from the package's own .wasm files (so any working directory works). */
async function tryWasm(): Promise<string | undefined> {
  try {
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    setWasmPaths(dist + path.sep);
    // tfjs 4.22 cannot start wasm worker threads in Node; make the single-threaded choice explicit.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    registerWasmKernels();
    const started = await withoutNewProcessHandlers(() => tf.setBackend('wasm'));
    return started ? undefined : 'failed to initialise';
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

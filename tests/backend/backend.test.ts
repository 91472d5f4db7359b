import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { fastWasmKernelsOn } from '../../lib/kernels';
import { wasmThreads } from '../../lib/wasm-threads';
import { largeProducts, trainAndSample } from './threads-workload';

const repo = path.resolve(__dirname, '../..');

/** Runs initBackend in a fresh process started in `cwd`; resolves with its printed result and exit code. */
function initInChild(cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const script = path.join(cwd, 'init-backend.ts');
  fs.writeFileSync(script, [
    `import { initBackend } from ${JSON.stringify(path.join(repo, 'lib/backend'))};`,
    'initBackend().then((info) => console.log(JSON.stringify(info)), (e) => { console.log(String(e.message)); process.exitCode = 3; });',
  ].join('\n'));
  const tsx = path.join(repo, 'node_modules/tsx/dist/cli.mjs');
  return new Promise((resolve) => {
    // The timeout kills the child if it does not exit by itself (e.g. a leftover worker thread).
    execFile(process.execPath, [tsx, script], { cwd, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, out, err) => resolve({ code: error ? (error.code as number | null) ?? null : 0, out, err }));
  });
}

describe('initBackend', () => {
  afterEach(() => { delete process.env.RRL_BACKEND; });

  test('an unknown RRL_BACKEND is one error naming the variable, and a later call still works', async () => {
    process.env.RRL_BACKEND = 'gpu';
    await expect(initBackend()).rejects.toThrow("RRL_BACKEND: unknown backend 'gpu' (expected one of auto, tensorflow, wasm, cpu)");
    delete process.env.RRL_BACKEND;

    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    // Neither native package is a dependency, so the reason says why each was skipped.
    expect(info.reason).toContain('@tensorflow/tfjs-node-gpu: not installed');
    expect(info.reason).toContain('@tensorflow/tfjs-node: not installed');
    expect(info.reason).toContain('SIMD');
    expect(fastWasmKernelsOn()).toBe(true);
    expect(tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')).toBe(false);
    expect(info.reason).toContain('1 thread');
    expect(wasmThreads()).toBe(1);
  });

  test('a second call returns the first result, whatever it asks for', async () => {
    const first = await initBackend();
    expect(await initBackend('cpu')).toBe(first);
    expect(tf.getBackend()).toBe('wasm');
  });

  test('from another working directory: wasm finds its .wasm files, RRL_BACKEND=cpu wins, the process exits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrl-backend-'));
    try {
      const [auto, cpu, native] = await Promise.all([
        initInChild(dir, {}),
        initInChild(fs.mkdtempSync(path.join(dir, 'cpu-')), { RRL_BACKEND: 'cpu' }),
        initInChild(fs.mkdtempSync(path.join(dir, 'native-')), { RRL_BACKEND: 'tensorflow' }),
      ]);
      expect(auto.code).toBe(0);
      expect(JSON.parse(auto.out).name).toBe('wasm');
      expect(auto.err).toContain('tfjs backend: wasm');
      expect(cpu.code).toBe(0);
      expect(JSON.parse(cpu.out)).toEqual({ name: 'cpu', reason: 'requested by RRL_BACKEND=cpu' });
      expect(native.code).toBe(3);
      expect(native.out).toContain('RRL_BACKEND=tensorflow: no native TensorFlow backend could be loaded');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('an uncaught error after initBackend prints the error and its stack, not the wasm module\'s source', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrl-uncaught-'));
  const script = path.join(dir, 'throws.ts');
  fs.writeFileSync(script, [
    `import { initBackend } from ${JSON.stringify(path.join(repo, 'lib/backend'))};`,
    "initBackend('wasm').then(() => setTimeout(() => { throw new Error('thrown after init'); }, 1));",
  ].join('\n'));
  const tsx = path.join(repo, 'node_modules/tsx/dist/cli.mjs');
  const { code, err } = await new Promise<{ code: number | null; err: string }>((resolve) => {
    execFile(process.execPath, [tsx, script], { cwd: dir, timeout: 60_000 }, (error, _out, stderr) => resolve({ code: error ? (error.code as number | null) ?? null : 0, err: stderr }));
  });
  expect(code).toBe(1);
  expect(err).toContain('Error: thrown after init');
  expect(err).toContain('throws.ts');
  expect(err).not.toContain('WasmBackendModule');
  expect(err.length).toBeLessThan(3000); // was ~39 KB: a line of minified source
});

/** Runs `lines` (TypeScript importing from the repository) in a fresh process; its exit code, stdout and stderr. */
function runChild(dir: string, lines: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const script = path.join(dir, `child-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(script, lines.join('\n'));
  const tsx = path.join(repo, 'node_modules/tsx/dist/cli.mjs');
  return new Promise((resolve) => {
    // The timeout kills a child that does not exit by itself (a worker thread left referenced).
    execFile(process.execPath, [tsx, script], { cwd: dir, env: { ...process.env, ...env }, timeout: 90_000 },
      (error, out, err) => resolve({ code: error ? (error.code as number | null) ?? null : 0, out, err }));
  });
}

describe('RRL_WASM_THREADS', () => {
  const imports = (names: string[]) => names.map((n) => `import { ${n.split(':')[0]} } from ${JSON.stringify(path.join(repo, n.split(':')[1]))};`);

  test('2 threads: XNNPACK pool of 2 and a worker for sequential products, decoding on 1 but for large products, training, sampling and large products bit-identical to 1 thread, the process exits by itself', async () => {
    await initBackend();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrl-threads-'));
    try {
      const child = runChild(dir, [
        ...imports(['initBackend:lib/backend', 'runExpKernel, runProduct, trainingKernels, wasmThreads, withWasmThreads:lib/wasm-threads', 'trainAndSample, largeProducts:tests/backend/threads-workload']),
        `import { getThreadsCount } from ${JSON.stringify(require.resolve('@tensorflow/tfjs-backend-wasm'))};`,
        'initBackend().then(async (info) => {',
        '  const pool = { reason: info.reason, pool: getThreadsCount(), now: wasmThreads(), inside: withWasmThreads(1, () => wasmThreads()), after: wasmThreads() };',
        '  const perProduct = withWasmThreads(1, () => [runProduct(1 << 22, () => wasmThreads()), runProduct((1 << 22) - 1, () => wasmThreads())]);',
        '  const training = [trainingKernels(() => [wasmThreads(), runProduct(1 << 22, () => wasmThreads()), runExpKernel(1 << 18, () => wasmThreads()), runExpKernel((1 << 18) - 1, () => wasmThreads())]), wasmThreads()];',
        '  const large = withWasmThreads(1, () => largeProducts());',
        '  const pooled = largeProducts();',
        '  console.log(JSON.stringify({ ...pool, perProduct, training, large, pooled, ...(await trainAndSample()) }));',
        '});',
      ], { RRL_WASM_THREADS: '2' });
      const here = await trainAndSample(); // this process: one thread
      const large = largeProducts();
      const { code, out, err } = await child;
      expect(err).not.toContain('Error');
      expect(code).toBe(0);
      const threaded = JSON.parse(out);
      expect(threaded).toMatchObject({ pool: 2, now: 2, inside: 1, after: 2 });
      // while decoding limits the pool to one thread, a large product still gets both, a smaller one does not
      expect(threaded.perProduct).toEqual([2, 1]);
      // a training step's element-wise kernels on the calling thread, its large products and large softmax or
      // sigmoid on both; restored after
      expect(threaded.training).toEqual([[1, 2, 2, 1], 2]);
      expect(threaded.large).toEqual(large);
      expect(threaded.pooled).toEqual(large); // outside decoding: XNNPACK's pool and the sequential product's workers
      expect(threaded.reason).toContain('wasm: XNNPACK, SIMD, 2 threads (decoding on 1)');
      expect(threaded.losses).toEqual(here.losses);
      expect(threaded.weights).toBe(here.weights);
      expect(threaded.generated).toEqual(here.generated);
      expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('rrl-wasm-') && fs.statSync(path.join(os.tmpdir(), f)).mtimeMs > Date.now() - 120_000)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a value other than auto or 1-8 is an error naming the variable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrl-threads-'));
    try {
      const bad = await Promise.all(['0', '9', 'two'].map((value) => initInChild(fs.mkdtempSync(path.join(dir, 'bad-')), { RRL_WASM_THREADS: value })));
      for (const [i, value] of ['0', '9', 'two'].entries()) {
        expect(bad[i].code).toBe(3);
        expect(bad[i].out).toContain(`RRL_WASM_THREADS: '${value}' is not 'auto' or a whole number of threads from 1 to 8`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

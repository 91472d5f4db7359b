import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { Worker } from 'node:worker_threads';
import { addConst, backendMemory, F32, I32, instantiate, MAX_PAGES, op, V128, wasmModule, type WasmFunction } from './wasm-encoder';

/**
 * A float32 matrix product on the wasm backend's heap, `C[i, j] = sum_t A(i, t) B(t, j)`, that rounds exactly
 * as XNNPACK's fully-connected operator does: each output starts at +0 and adds the products `A(i, t) * B(t, j)`
 * one by one in order of `t`, each product and each sum rounded to float32 (wasm SIMD has no fused multiply-add).
 * A is read through two strides, so `A` or `A^T` stored row-major are both read in place; B and C are row-major.
 *
 * Unlike XNNPACK it needs no packed copy of B: XNNPACK packs its right operand when an operator is created
 * (tfjs-backend-wasm creates one per right-operand buffer), which for attention's per-head products and for
 * the gradients' fresh operands costs more than the product. The module is a few hundred bytes of wasm SIMD,
 * written here instruction by instruction, that imports the backend's own memory.
 */
export interface SequentialGemm {
  /**
   * C = A B with A(i, t) at float index `a + i * aRow + t * aCol`, B(t, j) at `b + t * bRow + j`, C(i, j) at
   * `c + i * cRow + j` (all float32 indices into the heap, i < m, j < n, t < k). With `accumulate`, C's values
   * are the starting sums instead of +0 (the next part of a longer sum over t).
   */
  run(m: number, n: number, k: number, a: number, aRow: number, aCol: number, b: number, bRow: number, c: number, cRow: number, accumulate: boolean): void;
  /**
   * Runs each list of calls in order, the lists at once: the first on this thread, each other one on a worker
   * thread that shares the heap (the threaded build's memory is shared), returning when all are done. The lists
   * must write disjoint parts of C. Where the heap is not shared, every list runs here, one after another.
   */
  runLists(lists: GemmCall[][]): void;
  /** Whether `runLists` runs lists on other threads (the heap is shared). */
  readonly parallel: boolean;
}

/** One call of the product: m, n, k, a, aRow, aCol, b, bRow, c, cRow (float32 indices), accumulate (0 or 1). */
export type GemmCall = [number, number, number, number, number, number, number, number, number, number, number];

// Parameters (byte addresses and byte strides) and locals of the one exported function.
const P = { m: 0, n: 1, k: 2, a: 3, aRow: 4, aCol: 5, b: 6, bRow: 7, c: 8, cRow: 9, accumulate: 10 };
const PARAMS = 11;
const ROWS = 4; // rows of the largest tile
const I32_LOCALS = ['i', 'j', 't', 'pb', 'pc', 'pa0', 'pa1', 'pa2', 'pa3'] as const;
const L = Object.fromEntries(I32_LOCALS.map((name, index) => [name, PARAMS + index])) as Record<(typeof I32_LOCALS)[number], number>;
const F32_BASE = PARAMS + I32_LOCALS.length; // ROWS scalar sums
const V128_BASE = F32_BASE + ROWS; // ROWS x 2 vector sums, two B vectors, one splat of A
const acc = (row: number, vector: number) => V128_BASE + row * 2 + vector;
const BV = V128_BASE + ROWS * 2;
const AS = BV + 2;
const V128_LOCALS = ROWS * 2 + 3;

/**
 * One tile of `rows` rows starting at row `i` and `width` columns starting at column `j` (width 8 or 4: one or
 * two vectors; 1: scalar). Keeps its sums in locals over the whole k loop and writes them to C at the end.
 */
function tile(rows: number, width: 1 | 4 | 8): number[] {
  const vectors = width === 1 ? 0 : width / 4;
  const code: number[] = [];
  // pa_r = a + (i + r) * aRow; pb = b + j * 4; pc = c + i * cRow + j * 4
  for (let r = 0; r < rows; r++) {
    code.push(...op.get(P.a), ...op.get(L.i), ...op.i32(r), ...op.i32Add, ...op.get(P.aRow), ...op.i32Mul, ...op.i32Add, ...op.set(L.pa0 + r));
  }
  code.push(...op.get(P.b), ...op.get(L.j), ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...op.set(L.pb));
  code.push(...op.get(P.c), ...op.get(L.i), ...op.get(P.cRow), ...op.i32Mul, ...op.i32Add, ...op.get(L.j), ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...op.set(L.pc));
  // Sums start at +0 or at C's values.
  const rowAddress = (r: number) => [...op.get(L.pc), ...(r === 0 ? [] : [...op.get(P.cRow), ...op.i32(r), ...op.i32Mul, ...op.i32Add])];
  code.push(...op.get(P.accumulate), ...op.if);
  for (let r = 0; r < rows; r++) {
    if (width === 1) code.push(...rowAddress(r), ...op.f32Load(0), ...op.set(F32_BASE + r));
    for (let v = 0; v < vectors; v++) code.push(...rowAddress(r), ...op.v128Load(16 * v), ...op.set(acc(r, v)));
  }
  code.push(...op.else);
  for (let r = 0; r < rows; r++) {
    if (width === 1) code.push(...op.f32Zero, ...op.set(F32_BASE + r));
    for (let v = 0; v < vectors; v++) code.push(...op.v128Zero, ...op.set(acc(r, v)));
  }
  code.push(...op.end);
  // for (t = k; t != 0; t--): sum += A(i + r, t) * B(t, j..)
  code.push(...op.get(P.k), ...op.set(L.t), ...op.block, ...op.loop, ...op.get(L.t), ...op.i32Eqz, ...op.brIf(1));
  if (width === 1) {
    for (let r = 0; r < rows; r++) {
      // sum_r = sum_r + A * B
      code.push(...op.get(F32_BASE + r), ...op.get(L.pa0 + r), ...op.f32Load(0), ...op.get(L.pb), ...op.f32Load(0), ...op.f32Mul, ...op.f32Add, ...op.set(F32_BASE + r));
    }
  } else {
    for (let v = 0; v < vectors; v++) code.push(...op.get(L.pb), ...op.v128Load(16 * v), ...op.set(BV + v));
    for (let r = 0; r < rows; r++) {
      code.push(...op.get(L.pa0 + r), ...op.v128Load32Splat(0), ...op.set(AS));
      for (let v = 0; v < vectors; v++) {
        code.push(...op.get(acc(r, v)), ...op.get(AS), ...op.get(BV + v), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(acc(r, v)));
      }
    }
  }
  for (let r = 0; r < rows; r++) code.push(...op.get(L.pa0 + r), ...op.get(P.aCol), ...op.i32Add, ...op.set(L.pa0 + r));
  code.push(...op.get(L.pb), ...op.get(P.bRow), ...op.i32Add, ...op.set(L.pb));
  code.push(...addConst(L.t, L.t, -1), ...op.br(0), ...op.end, ...op.end);
  // Store the sums.
  for (let r = 0; r < rows; r++) {
    if (width === 1) code.push(...rowAddress(r), ...op.get(F32_BASE + r), ...op.f32Store(0));
    for (let v = 0; v < vectors; v++) code.push(...rowAddress(r), ...op.get(acc(r, v)), ...op.v128Store(16 * v));
  }
  return code;
}

/** While at least `width` columns are left from j: one tile, j += width. */
function columnLoop(rows: number, width: 1 | 4 | 8): number[] {
  return [
    ...op.block, ...op.loop,
    ...op.get(P.n), ...op.get(L.j), ...op.i32Sub, ...op.i32(width), ...op.i32LtU, ...op.brIf(1),
    ...tile(rows, width),
    ...addConst(L.j, L.j, width), ...op.br(0),
    ...op.end, ...op.end,
  ];
}

/** While at least `rows` rows are left from i: every column of those rows, i += rows. */
function rowLoop(rows: number): number[] {
  return [
    ...op.block, ...op.loop,
    ...op.get(P.m), ...op.get(L.i), ...op.i32Sub, ...op.i32(rows), ...op.i32LtU, ...op.brIf(1),
    ...op.i32(0), ...op.set(L.j),
    ...columnLoop(rows, 8), ...columnLoop(rows, 4), ...columnLoop(rows, 1),
    ...addConst(L.i, L.i, rows), ...op.br(0),
    ...op.end, ...op.end,
  ];
}

/** The module's bytes; `shared` when the backend's memory is a shared one (the threaded build). */
export function sequentialGemmModule(shared: boolean, maxPages: number): Uint8Array {
  const gemm: WasmFunction = {
    name: 'gemm',
    params: new Array(PARAMS).fill(I32),
    locals: [[I32_LOCALS.length, I32], [ROWS, F32], [V128_LOCALS, V128]],
    body: [...op.i32(0), ...op.set(L.i), ...rowLoop(ROWS), ...rowLoop(1)],
  };
  return wasmModule([gemm], shared, maxPages);
}

const instances = new WeakMap<BackendWasm, SequentialGemm>();

/** Calls a worker's control block holds: [job number, job done, call count, then 11 ints a call]. */
const CONTROL_CALLS = 4096;

/**
 * A worker thread's loop: instantiate the module on the shared heap, then for each job number posted in
 * control[0] run the calls listed after it and post the number to control[1]. (Plain JS: it runs as eval code.)
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, control } = workerData;
const gemm = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemm;
const words = new Int32Array(control);
let job = 0;
for (;;) {
  Atomics.wait(words, 0, job);
  job = Atomics.load(words, 0);
  for (let i = 0, o = 3; i < words[2]; i++, o += 11) {
    gemm(words[o], words[o + 1], words[o + 2], words[o + 3], words[o + 4], words[o + 5], words[o + 6], words[o + 7], words[o + 8], words[o + 9], words[o + 10]);
  }
  Atomics.store(words, 1, job);
  Atomics.notify(words, 1);
}`;

/** The byte arguments of the wasm function for a call given in float units. */
function byteArguments([m, n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate]: GemmCall): number[] {
  return [m, n, k, 4 * a, 4 * aRow, 4 * aCol, 4 * b, 4 * bRow, 4 * c, 4 * cRow, accumulate];
}

/** The product bound to `backend`'s heap (compiled once per backend). */
export function sequentialGemm(backend: BackendWasm): SequentialGemm {
  const known = instances.get(backend);
  if (known) return known;
  const { memory, shared } = backendMemory(backend, 'sequentialGemm');
  const bytes = sequentialGemmModule(shared, MAX_PAGES);
  const gemm = instantiate(bytes, memory).gemm as (...args: number[]) => void;
  const workers: Array<{ words: Int32Array; job: number }> = [];
  const worker = (index: number) => {
    while (workers.length <= index) {
      const control = new SharedArrayBuffer(4 * (3 + 11 * CONTROL_CALLS));
      new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, bytes, control } }).unref(); // never keeps the process alive
      workers.push({ words: new Int32Array(control), job: 0 });
    }
    return workers[index];
  };
  const runHere = (calls: GemmCall[]) => { for (const call of calls) gemm(...byteArguments(call)); };
  const made: SequentialGemm = {
    parallel: shared,
    run: (m, n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate) => runHere([[m, n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate ? 1 : 0]]),
    runLists: (lists) => {
      const [first, ...rest] = lists;
      if (!shared || rest.some((calls) => calls.length > CONTROL_CALLS)) {
        lists.forEach(runHere);
        return;
      }
      const posted = rest.map((calls, index) => {
        const target = worker(index);
        calls.forEach((call, i) => target.words.set(byteArguments(call), 3 + 11 * i));
        target.words[2] = calls.length;
        target.job += 1;
        Atomics.store(target.words, 0, target.job);
        Atomics.notify(target.words, 0);
        return target;
      });
      runHere(first ?? []);
      for (const target of posted) {
        for (let done = Atomics.load(target.words, 1); done !== target.job; done = Atomics.load(target.words, 1)) {
          Atomics.wait(target.words, 1, done);
        }
      }
    },
  };
  instances.set(backend, made);
  return made;
}

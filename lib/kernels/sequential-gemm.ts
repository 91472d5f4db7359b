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
   * Runs every unit of `job` for every one of its products on `threads` threads (this one and worker threads that
   * share the heap, which the threaded build's memory is), returning when all are done: each thread takes the
   * next (product, unit) task from a shared counter until none is left, so a slower thread takes fewer. Units must
   * write disjoint parts of C. Where the heap is not shared, or with one thread, every task runs here in order.
   */
  runJob(job: GemmJob, threads: number): void;
  /** Whether `runJob` runs tasks on other threads (the heap is shared). */
  readonly parallel: boolean;
}

/**
 * Work for the product: `units`, lists of calls each at offsets from a product's operands, run for every triple
 * (a, b, c) of `bases` (float32 indices added to each call's own a, b and c), so that a product's calls are
 * planned once whatever its place in the heap. The calls of one unit run in order on one thread.
 */
export interface GemmJob {
  units: GemmCall[][];
  bases: number[];
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
const AV = AS + 1; // A(i..i+3, t) when the tile's rows are adjacent in memory
const V128_LOCALS = ROWS * 2 + 4;

/**
 * One tile of `rows` rows starting at row `i` and `width` columns starting at column `j` (width 8 or 4: one or
 * two vectors; 1: scalar). Keeps its sums in locals over the whole k loop and writes them to C at the end. With
 * `adjacent` (A's rows next to each other, aRow = 1: A^T read in place) a vector tile loads A(i..i+3, t) as
 * one vector and splats its lanes, instead of four loads from four pointers.
 */
function tile(rows: number, width: 1 | 4 | 8, adjacent: boolean): number[] {
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
    if (adjacent) code.push(...op.get(L.pa0), ...op.v128Load(0), ...op.set(AV));
    for (let r = 0; r < rows; r++) {
      code.push(...(adjacent ? [...op.get(AV), ...op.get(AV), ...op.shuffle32([r, r, r, r])] : [...op.get(L.pa0 + r), ...op.v128Load32Splat(0)]), ...op.set(AS));
      for (let v = 0; v < vectors; v++) {
        code.push(...op.get(acc(r, v)), ...op.get(AS), ...op.get(BV + v), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(acc(r, v)));
      }
    }
  }
  for (let r = 0; r < (adjacent && vectors > 0 ? 1 : rows); r++) code.push(...op.get(L.pa0 + r), ...op.get(P.aCol), ...op.i32Add, ...op.set(L.pa0 + r));
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
function columnLoop(rows: number, width: 1 | 4 | 8, adjacent: boolean): number[] {
  return [
    ...op.block, ...op.loop,
    ...op.get(P.n), ...op.get(L.j), ...op.i32Sub, ...op.i32(width), ...op.i32LtU, ...op.brIf(1),
    ...tile(rows, width, adjacent),
    ...addConst(L.j, L.j, width), ...op.br(0),
    ...op.end, ...op.end,
  ];
}

/** While at least `rows` rows are left from i: every column of those rows, i += rows. */
function rowLoop(rows: number, adjacent = false): number[] {
  return [
    ...op.block, ...op.loop,
    ...op.get(P.m), ...op.get(L.i), ...op.i32Sub, ...op.i32(rows), ...op.i32LtU, ...op.brIf(1),
    ...op.i32(0), ...op.set(L.j),
    ...columnLoop(rows, 8, adjacent), ...columnLoop(rows, 4, adjacent), ...columnLoop(rows, 1, false),
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
    body: [
      ...op.i32(0), ...op.set(L.i),
      // 4-row tiles: adjacent rows (aRow of one float32, 4 bytes) or any stride, then the rows left one by one
      ...op.get(P.aRow), ...op.i32(4), ...op.i32Eq, ...op.if, ...rowLoop(ROWS, true), ...op.else, ...rowLoop(ROWS), ...op.end,
      ...rowLoop(1),
    ],
  };
  return wasmModule([gemm], shared, maxPages);
}

/**
 * The sum over t is taken in chunks of K_CHUNK terms, each chunk over every row of a panel of N_PANEL columns
 * before the next chunk (the running sums kept in C, so every output still adds its terms in order of t): the
 * chunk of A and the panel of B then stay in cache while they are used. On weight gradients [128, 2048] x
 * [2048, 512] to [384, 1024] x [1024, 1536] these were the fastest of 16-256 terms and 64-all columns.
 */
const K_CHUNK = 64;
const N_PANEL = 256;

/**
 * The calls for C = A B over t < k by panels and chunks (see K_CHUNK), in the float32 indices of
 * {@link SequentialGemm.run}; with `accumulate`, the sums continue from C's values (a later range of t).
 */
export function productCalls(
  m: number, n: number, k: number, a: number, aRow: number, aCol: number, b: number, bRow: number, c: number, cRow: number, accumulate = false,
): GemmCall[] {
  const calls: GemmCall[] = [];
  for (let j = 0; j < n; j += N_PANEL) {
    const width = Math.min(N_PANEL, n - j);
    if (k === 0 && !accumulate) calls.push([m, width, 0, a, aRow, aCol, b + j, bRow, c + j, cRow, 0]); // all +0
    for (let t = 0; t < k; t += K_CHUNK) {
      calls.push([m, width, Math.min(K_CHUNK, k - t), a + t * aCol, aRow, aCol, b + t * bRow + j, bRow, c + j, cRow, t > 0 || accumulate ? 1 : 0]);
    }
  }
  return calls;
}

const instances = new WeakMap<BackendWasm, SequentialGemm>();

/**
 * The job block shared by every worker: [job number, the job number each of workers 1-8 has done, task count, next
 * task, unit count, call count], then the units' (first call, call count), the calls (11 ints each: byte
 * arguments) and the products' bases (3 ints each, bytes).
 */
const MAX_WORKERS = 8;
const [JOB, DONE] = [0, 1];
const [TASKS, NEXT, UNITS, CALLS] = [0, 1, 2, 3].map((i) => DONE + MAX_WORKERS + i);
const HEADER = CALLS + 1;
const MAX_UNITS = 1024;
const MAX_CALLS = 8192;
const MAX_PRODUCTS = 8192;

/**
 * A worker thread's loop: instantiate the module on the shared heap, then for each job number posted in
 * block[JOB] take tasks from block[NEXT] until none is left, and post the number to its done word. (Plain JS: it
 * runs as eval code.)
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, block, index } = workerData;
const gemm = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.gemm;
const words = new Int32Array(block);
let job = 0;
for (;;) {
  Atomics.wait(words, ${JOB}, job);
  job = Atomics.load(words, ${JOB});
  const [tasks, units] = [words[${TASKS}], words[${UNITS}]];
  const callsAt = ${HEADER} + 2 * units;
  const basesAt = callsAt + 11 * words[${CALLS}];
  for (let task = Atomics.add(words, ${NEXT}, 1); task < tasks; task = Atomics.add(words, ${NEXT}, 1)) {
    const unit = ${HEADER} + 2 * (task % units);
    const base = basesAt + 3 * Math.floor(task / units);
    const a = words[base], b = words[base + 1], c = words[base + 2];
    for (let i = 0, o = callsAt + 11 * words[unit]; i < words[unit + 1]; i++, o += 11) {
      gemm(words[o], words[o + 1], words[o + 2], a + words[o + 3], words[o + 4], words[o + 5], b + words[o + 6], words[o + 7], c + words[o + 8], words[o + 9], words[o + 10]);
    }
  }
  Atomics.store(words, ${DONE} + index, job);
  Atomics.notify(words, ${DONE} + index);
}`;

/** The product bound to `backend`'s heap (compiled once per backend). */
export function sequentialGemm(backend: BackendWasm): SequentialGemm {
  const known = instances.get(backend);
  if (known) return known;
  const { memory, shared } = backendMemory(backend, 'sequentialGemm');
  const bytes = sequentialGemmModule(shared, MAX_PAGES);
  const gemm = instantiate(bytes, memory).gemm as (...args: number[]) => void;
  const words = new Int32Array(new SharedArrayBuffer(4 * (HEADER + 2 * MAX_UNITS + 11 * MAX_CALLS + 3 * MAX_PRODUCTS)));
  let workers = 0;
  let job = 0;
  // The wasm function takes byte addresses and strides.
  const runTask = (calls: GemmCall[], a: number, b: number, c: number) => {
    for (const [m, n, k, ca, aRow, aCol, cb, bRow, cc, cRow, accumulate] of calls) {
      gemm(m, n, k, 4 * (a + ca), 4 * aRow, 4 * aCol, 4 * (b + cb), 4 * bRow, 4 * (c + cc), 4 * cRow, accumulate);
    }
  };
  const runHere = ({ units, bases }: GemmJob) => {
    for (let p = 0; p < bases.length; p += 3) for (const calls of units) runTask(calls, bases[p], bases[p + 1], bases[p + 2]);
  };
  const made: SequentialGemm = {
    parallel: shared,
    run: (m, n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate) => runTask([[m, n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate ? 1 : 0]], 0, 0, 0),
    runJob: (todo, threads) => {
      const { units, bases } = todo;
      const callCount = units.reduce((sum, calls) => sum + calls.length, 0);
      const helpers = Math.min(threads, MAX_WORKERS + 1) - 1;
      if (!shared || helpers < 1 || units.length > MAX_UNITS || callCount > MAX_CALLS || bases.length > 3 * MAX_PRODUCTS) {
        runHere(todo);
        return;
      }
      while (workers < helpers) {
        new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, bytes, block: words.buffer, index: workers } }).unref(); // never keeps the process alive
        workers += 1;
      }
      let at = HEADER + 2 * units.length;
      units.forEach((calls, u) => {
        words[HEADER + 2 * u] = (at - HEADER - 2 * units.length) / 11;
        words[HEADER + 2 * u + 1] = calls.length;
        for (const [m, n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate] of calls) {
          words.set([m, n, k, 4 * a, 4 * aRow, 4 * aCol, 4 * b, 4 * bRow, 4 * c, 4 * cRow, accumulate], at);
          at += 11;
        }
      });
      words.set(bases.map((offset) => 4 * offset), at);
      const tasks = units.length * (bases.length / 3);
      [words[TASKS], words[UNITS], words[CALLS], words[NEXT]] = [tasks, units.length, callCount, 0];
      job += 1;
      Atomics.store(words, JOB, job);
      Atomics.notify(words, JOB); // every worker made so far takes tasks
      for (let task = Atomics.add(words, NEXT, 1); task < tasks; task = Atomics.add(words, NEXT, 1)) {
        const base = 3 * Math.floor(task / units.length);
        runTask(units[task % units.length], bases[base], bases[base + 1], bases[base + 2]);
      }
      for (let index = 0; index < workers; index++) {
        for (let done = Atomics.load(words, DONE + index); done !== job; done = Atomics.load(words, DONE + index)) {
          Atomics.wait(words, DONE + index, done);
        }
      }
    },
  };
  instances.set(backend, made);
  return made;
}

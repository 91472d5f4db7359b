import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The few parts of the WebAssembly binary format (core and SIMD specifications) that the project's own wasm
 * kernels are written in, instruction by instruction, and the instantiation of such a module on the wasm
 * backend's own memory, so that it reads and writes tensors where they lie in the heap.
 */

const uleb = (value: number): number[] => {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
};

const sleb = (value: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};

/** Value types. */
export const I32 = 0x7f;
export const F64 = 0x7c;
export const F32 = 0x7d;
export const V128 = 0x7b;

const f64Bytes = (value: number): number[] => [...new Uint8Array(new Float64Array([value]).buffer)];

/** Instructions; loads and stores take a constant byte offset added to the address on the stack. */
export const op = {
  block: [0x02, 0x40], loop: [0x03, 0x40], if: [0x04, 0x40], else: [0x05], end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  i32: (value: number) => [0x41, ...sleb(value)],
  i32Eqz: [0x45], i32Eq: [0x46], i32LtU: [0x49], i32Add: [0x6a], i32Sub: [0x6b], i32Mul: [0x6c], i32And: [0x71], i32Shl: [0x74], i32ShrU: [0x76],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32Store: (offset: number) => [0x36, 2, ...uleb(offset)],
  f32Load: (offset: number) => [0x2a, 0, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 0, ...uleb(offset)],
  f64Load: (offset: number) => [0x2b, 0, ...uleb(offset)],
  f64Store: (offset: number) => [0x39, 0, ...uleb(offset)],
  f32Zero: [0x43, 0, 0, 0, 0],
  f32: (value: number) => [0x43, ...new Uint8Array(new Float32Array([value]).buffer)],
  f64: (value: number) => [0x44, ...f64Bytes(value)],
  f32Sqrt: [0x91], f32Add: [0x92], f32Sub: [0x93], f32Mul: [0x94], f32Div: [0x95],
  /** unsigned i32 -> float32 (rounded to nearest even). */
  f32ConvertI32U: [0xb3],
  f64Sqrt: [0x9f], f64Add: [0xa0], f64Sub: [0xa1], f64Mul: [0xa2], f64Div: [0xa3],
  /** float64 -> float32, rounded to nearest even (what a Float32Array store does). */
  f32DemoteF64: [0xb6],
  /** float32 -> float64 (exact). */
  f64PromoteF32: [0xbb],
  f64ConvertI32U: [0xb8],
  v128Load: (offset: number) => [0xfd, ...uleb(0), 0, ...uleb(offset)],
  v128Load32Splat: (offset: number) => [0xfd, ...uleb(9), 0, ...uleb(offset)],
  v128Store: (offset: number) => [0xfd, ...uleb(11), 0, ...uleb(offset)],
  v128Zero: [0xfd, ...uleb(12), ...new Array(16).fill(0)],
  f32x4Add: [0xfd, ...uleb(228)], f32x4Sub: [0xfd, ...uleb(229)], f32x4Mul: [0xfd, ...uleb(230)],
  f32x4Splat: [0xfd, ...uleb(19)], f64x2Splat: [0xfd, ...uleb(20)], i32x4Splat: [0xfd, ...uleb(17)],
  /** Replaces lane `lane` of an i32x4 by an i32 (bits moved as they are). */
  i32x4ReplaceLane: (lane: number) => [0xfd, ...uleb(28), lane],
  /** The 32-bit lanes `lanes` (0-3 of the first operand, 4-7 of the second) of two vectors (i8x16.shuffle). */
  shuffle32: (lanes: number[]) => [0xfd, ...uleb(13), ...lanes.flatMap((lane) => [0, 1, 2, 3].map((byte) => 4 * lane + byte))],
  /** Two float32 at the address (+ offset) into the low lanes, the rest zero. */
  v128Load64Zero: (offset: number) => [0xfd, ...uleb(93), 3, ...uleb(offset)],
  /** Stores the low 64 bits (two float32) at the address (+ offset). */
  v128Store64Lane0: (offset: number) => [0xfd, ...uleb(91), 3, ...uleb(offset), 0],
  /** float32 lanes 0, 1 -> float64 lanes (exact). */
  f64x2PromoteLowF32x4: [0xfd, ...uleb(95)],
  /** float64 lanes -> float32 lanes 0, 1 (rounded to nearest even), lanes 2, 3 zero. */
  f32x4DemoteF64x2Zero: [0xfd, ...uleb(94)],
  f64x2Sqrt: [0xfd, ...uleb(239)], f64x2Add: [0xfd, ...uleb(240)], f64x2Sub: [0xfd, ...uleb(241)],
  f64x2Mul: [0xfd, ...uleb(242)], f64x2Div: [0xfd, ...uleb(243)],
  /** memory.copy (bulk memory): pops destination, source and byte count; copies as memmove does. */
  memoryCopy: [0xfc, ...uleb(10), 0, 0],
};

/** `i32` local `target` = `local` + `value` (a constant). */
export const addConst = (target: number, local: number, value: number): number[] =>
  [...op.get(local), ...op.i32(value), ...op.i32Add, ...op.set(target)];

/** `for (local = count; local != 0; local--) body` (a count of 0 runs nothing). */
export const countDown = (local: number, count: number[], body: number[]): number[] => [
  ...count, ...op.set(local), ...op.block, ...op.loop, ...op.get(local), ...op.i32Eqz, ...op.brIf(1),
  ...body,
  ...addConst(local, local, -1), ...op.br(0), ...op.end, ...op.end,
];

/** One exported function: its parameter types, its locals as runs of [count, type], its body's instructions. */
export interface WasmFunction {
  name: string;
  params: number[];
  locals: Array<[number, number]>;
  body: number[];
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (text: string) => vec([...Buffer.from(text, 'utf8')].map((b) => [b]));

/**
 * A module of functions without results that imports `env.memory` (shared, up to `maxPages`, in the threaded
 * build) and exports each function under its name.
 */
export function wasmModule(functions: WasmFunction[], shared: boolean, maxPages: number): Uint8Array {
  const limits = shared ? [0x03, ...uleb(1), ...uleb(maxPages)] : [0x00, ...uleb(1)];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((type) => [type])), ...vec([])]))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])),
    ...section(3, vec(functions.map((_, index) => uleb(index)))),
    ...section(7, vec(functions.map((f, index) => [...name(f.name), 0x00, ...uleb(index)]))),
    ...section(10, vec(functions.map((f) => {
      const code = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.body, ...op.end];
      return [...uleb(code.length), ...code];
    }))),
  ]);
}

/** The parts of the WebAssembly JS API used here (the project's TypeScript settings carry no DOM types). */
export interface WasmMemory { buffer: ArrayBufferLike }
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WebAssemblyJs = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** What of the wasm backend's emscripten module is used here: its memory. */
interface EmscriptenModule { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory }

/** The wasm backend's memory and whether it is shared (the threaded build). */
export function backendMemory(backend: BackendWasm, user: string): { memory: WasmMemory; shared: boolean } {
  const module = backend.wasm as unknown as EmscriptenModule;
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (!(memory instanceof WebAssemblyJs.Memory)) throw new Error(`${user}: the wasm backend does not expose its memory`);
  return { memory, shared: typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer };
}

/** The exports of `bytes` instantiated on `memory`. */
export function instantiate(bytes: Uint8Array, memory: WasmMemory): Record<string, unknown> {
  return new WebAssemblyJs.Instance(new WebAssemblyJs.Module(bytes), { env: { memory } }).exports;
}

/** The largest number of 64 KiB pages a module's imported memory may declare (4 GiB). */
export const MAX_PAGES = 65536;

/** Where a tensor's values start in the wasm backend's heap, in bytes. */
export function heapAddress(backend: BackendWasm, x: tf.TensorInfo): number {
  return backend.typedArrayFromHeap(x).byteOffset;
}

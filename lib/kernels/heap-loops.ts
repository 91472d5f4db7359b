import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendMemory, countDown, F32, F64, I32, instantiate, MAX_PAGES, op, wasmModule, type WasmFunction } from './wasm-encoder';

/**
 * The element and row loops of the project's own kernels (GeluTanhGrad, RowNormGrad, AdamWStep, SquaredNorm and the
 * leading-axis Sum) as wasm functions on the backend's heap. Each computes in float64 from float32 inputs and
 * rounds once to float32 on store, with the same operations in the same order as the formula in its kernel's
 * documentation, so the results are what those formulas give in JS, bit for bit (float64 +, -, *, / and sqrt
 * are correctly rounded in both; float32 -> float64 is exact and float64 -> float32 rounds to nearest even in
 * both); `sumOfSquares` and AdamW's gradient scale compute in float32, as the tf ops they replace. They ran 2-4x
 * faster than the same loops in JS, which copied chunks of the heap into scratch arrays to run at all well.
 *
 * Arguments are byte addresses into the heap and counts; float64 sums that outlive a row go to `sums`, a scratch
 * area of at least `columns` float64 values.
 */
export interface HeapLoops {
  /** dx = dy (s + x s (1 - s) slope (1 + cubic x^2)) for n values (see `geluTanhGradConfig`). */
  geluTanhGrad(x: number, s: number, dy: number, dx: number, n: number, slope: number, cubic: number): void;
  /**
   * One AdamW update of n values (see `adamwStepConfig`) with the gradient g * gradScale (a float32 product, as
   * tf.mul); `oneMinusBeta1` and `oneMinusBeta2` are 1 - beta1 and 1 - beta2 as JS computes them.
   */
  adamwStep(p: number, m: number, v: number, g: number, pOut: number, mOut: number, vOut: number, n: number,
    gradScale: number, lr: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number,
    eps: number, weightDecay: number, correction1: number, correction2: number): void;
  /** out = the float32 sum from +0 of x_i * x_i in order of i (each product and sum rounded to float32), as tf.sum(tf.square(x)). */
  sumOfSquares(x: number, n: number, out: number): void;
  /** dx of a LayerNorm (`center` 1) or RMSNorm (0) and dgain (see `rowNormGradConfig`) for rows of `width`. */
  rowNormGrad(dy: number, xhat: number, rstd: number, gain: number, dx: number, dGain: number, sums: number,
    rows: number, width: number, center: number): void;
  /** out[c] = the float64 sum over rows of x[r, c], four rows a pass (see `columnSums`), rounded to float32. */
  columnSums(x: number, rows: number, columns: number, sums: number, out: number): void;
}

/** Locals are numbered after the parameters; `locals` names each function's scratch locals by type. */
function fn(name: string, params: Array<[string, number]>, locals: Array<[string, number]>, body: (l: Record<string, number>) => number[]): WasmFunction {
  const all = [...params, ...locals];
  const index = Object.fromEntries(all.map(([local], i) => [local, i]));
  return { name, params: params.map(([, type]) => type), locals: locals.map(([, type]) => [1, type]), body: body(index) };
}

/** float32 at the address in local `pointer` (+ `offset` bytes), as float64. */
const load = (pointer: number, offset = 0) => [...op.get(pointer), ...op.f32Load(offset), ...op.f64PromoteF32];
/** Pushes the address in local `pointer`, then `value` (float64) is stored there as float32 (rounded). */
const store = (pointer: number, value: number[]) => [...op.get(pointer), ...value, ...op.f32DemoteF64, ...op.f32Store(0)];
/** local `pointer` += `bytes`. */
const advance = (pointer: number, bytes: number) => [...op.get(pointer), ...op.i32(bytes), ...op.i32Add, ...op.set(pointer)];
/** A binary float64 operation of two instruction sequences. */
const f64 = (a: number[], operation: number[], b: number[]) => [...a, ...b, ...operation];

const geluTanhGrad = fn('geluTanhGrad',
  [['x', I32], ['s', I32], ['dy', I32], ['dx', I32], ['n', I32], ['slope', F64], ['cubic', F64]],
  [['left', I32], ['xi', F64], ['si', F64]],
  (l) => countDown(l.left, op.get(l.n), [
    ...load(l.x), ...op.set(l.xi), ...load(l.s), ...op.set(l.si),
    // dy * (s + x * s * (1 - s) * slope * (1 + cubic * x * x)), left to right as JS evaluates it
    ...store(l.dx, f64(load(l.dy), op.f64Mul, f64(op.get(l.si), op.f64Add,
      f64(f64(f64(f64(op.get(l.xi), op.f64Mul, op.get(l.si)), op.f64Mul, f64(op.f64(1), op.f64Sub, op.get(l.si))), op.f64Mul, op.get(l.slope)),
        op.f64Mul, f64(op.f64(1), op.f64Add, f64(f64(op.get(l.cubic), op.f64Mul, op.get(l.xi)), op.f64Mul, op.get(l.xi))))))),
    ...[l.x, l.s, l.dy, l.dx].flatMap((pointer) => advance(pointer, 4)),
  ]));

const adamwStep = fn('adamwStep',
  [['p', I32], ['m', I32], ['v', I32], ['g', I32], ['pOut', I32], ['mOut', I32], ['vOut', I32], ['n', I32], ['gradScale', F32],
    ['lr', F64], ['beta1', F64], ['oneMinusBeta1', F64], ['beta2', F64], ['oneMinusBeta2', F64], ['eps', F64],
    ['weightDecay', F64], ['correction1', F64], ['correction2', F64]],
  [['left', I32], ['gi', F64], ['mi', F64], ['vi', F64], ['pi', F64]],
  (l) => countDown(l.left, op.get(l.n), [
    ...op.get(l.g), ...op.f32Load(0), ...op.get(l.gradScale), ...op.f32Mul, ...op.f64PromoteF32, ...op.set(l.gi), ...load(l.p), ...op.set(l.pi),
    // m' = b1 m + (1 - b1) g; v' = b2 v + (1 - b2) g g
    ...f64(f64(op.get(l.beta1), op.f64Mul, load(l.m)), op.f64Add, f64(op.get(l.oneMinusBeta1), op.f64Mul, op.get(l.gi))), ...op.set(l.mi),
    ...f64(f64(op.get(l.beta2), op.f64Mul, load(l.v)), op.f64Add,
      f64(f64(op.get(l.oneMinusBeta2), op.f64Mul, op.get(l.gi)), op.f64Mul, op.get(l.gi))), ...op.set(l.vi),
    ...store(l.mOut, op.get(l.mi)), ...store(l.vOut, op.get(l.vi)),
    // p' = p - lr (m' / c1 / (sqrt(v' / c2) + eps) + wd p)
    ...store(l.pOut, f64(op.get(l.pi), op.f64Sub, f64(op.get(l.lr), op.f64Mul, f64(
      f64(f64(op.get(l.mi), op.f64Div, op.get(l.correction1)), op.f64Div,
        f64([...f64(op.get(l.vi), op.f64Div, op.get(l.correction2)), ...op.f64Sqrt], op.f64Add, op.get(l.eps))),
      op.f64Add, f64(op.get(l.weightDecay), op.f64Mul, op.get(l.pi)))))),
    ...[l.p, l.m, l.v, l.g, l.pOut, l.mOut, l.vOut].flatMap((pointer) => advance(pointer, 4)),
  ]));

/** float64 sums[0 .. count) = +0. */
const zeroSums = (sums: number, count: number, pointer: number, left: number) => [
  ...op.get(sums), ...op.set(pointer),
  ...countDown(left, op.get(count), [...op.get(pointer), ...op.f64(0), ...op.f64Store(0), ...advance(pointer, 8)]),
];

/** out[c] = float32(sums[c]) for c < count. */
const storeSums = (sums: number, out: number, count: number, pointer: number, target: number, left: number) => [
  ...op.get(sums), ...op.set(pointer), ...op.get(out), ...op.set(target),
  ...countDown(left, op.get(count), [
    ...store(target, [...op.get(pointer), ...op.f64Load(0)]), ...advance(pointer, 8), ...advance(target, 4),
  ]),
];

const rowNormGrad = fn('rowNormGrad',
  [['dy', I32], ['xhat', I32], ['rstd', I32], ['gain', I32], ['dx', I32], ['dGain', I32], ['sums', I32],
    ['rows', I32], ['width', I32], ['center', I32]],
  [['row', I32], ['left', I32], ['pg', I32], ['ps', I32], ['rowDy', I32], ['rowXhat', I32],
    ['dyc', F64], ['gc', F64], ['xc', F64], ['sumG', F64], ['sumGX', F64], ['meanG', F64], ['meanGX', F64], ['scale', F64], ['widthF', F64]],
  (l) => {
    // For each column of the row: pg, ps (gain, sums) from the start, rowDy, rowXhat from the row's start.
    const columns = (body: number[]) => [
      ...op.get(l.gain), ...op.set(l.pg), ...op.get(l.sums), ...op.set(l.ps),
      ...op.get(l.dy), ...op.set(l.rowDy), ...op.get(l.xhat), ...op.set(l.rowXhat),
      ...countDown(l.left, op.get(l.width), [
        ...body, ...advance(l.pg, 4), ...advance(l.ps, 8), ...advance(l.rowDy, 4), ...advance(l.rowXhat, 4),
      ]),
    ];
    return [
      ...op.get(l.width), ...op.f64ConvertI32U, ...op.set(l.widthF),
      ...zeroSums(l.sums, l.width, l.ps, l.left),
      ...countDown(l.row, op.get(l.rows), [
        ...op.f64(0), ...op.set(l.sumG), ...op.f64(0), ...op.set(l.sumGX),
        // g = dy gain; sumG += g; sumGX += g xhat; dgain += dy xhat
        ...columns([
          ...load(l.rowDy), ...op.set(l.dyc), ...load(l.rowXhat), ...op.set(l.xc),
          ...f64(op.get(l.dyc), op.f64Mul, load(l.pg)), ...op.set(l.gc),
          ...f64(op.get(l.sumG), op.f64Add, op.get(l.gc)), ...op.set(l.sumG),
          ...f64(op.get(l.sumGX), op.f64Add, f64(op.get(l.gc), op.f64Mul, op.get(l.xc))), ...op.set(l.sumGX),
          ...op.get(l.ps), ...f64([...op.get(l.ps), ...op.f64Load(0)], op.f64Add, f64(op.get(l.dyc), op.f64Mul, op.get(l.xc))), ...op.f64Store(0),
        ]),
        // meanG = center ? sumG / width : 0; meanGX = sumGX / width
        ...op.f64(0), ...op.set(l.meanG),
        ...op.get(l.center), ...op.if, ...f64(op.get(l.sumG), op.f64Div, op.get(l.widthF)), ...op.set(l.meanG), ...op.end,
        ...f64(op.get(l.sumGX), op.f64Div, op.get(l.widthF)), ...op.set(l.meanGX),
        ...load(l.rstd), ...op.set(l.scale),
        // dx = rstd (dy gain - meanG - xhat meanGX)
        ...columns([
          ...store(l.dx, f64(op.get(l.scale), op.f64Mul, f64(f64(f64(load(l.rowDy), op.f64Mul, load(l.pg)), op.f64Sub, op.get(l.meanG)),
            op.f64Sub, f64(load(l.rowXhat), op.f64Mul, op.get(l.meanGX))))),
          ...advance(l.dx, 4),
        ]),
        ...op.get(l.rowDy), ...op.set(l.dy), ...op.get(l.rowXhat), ...op.set(l.xhat), ...advance(l.rstd, 4),
      ]),
      ...storeSums(l.sums, l.dGain, l.width, l.ps, l.pg, l.left),
    ];
  });

const columnSums = fn('columnSums',
  [['x', I32], ['rows', I32], ['columns', I32], ['sums', I32], ['out', I32]],
  [['row', I32], ['left', I32], ['ps', I32], ['px', I32], ['target', I32], ['rowBytes', I32]],
  (l) => {
    const at = (r: number) => [...op.get(l.px), ...(r === 0 ? [] : [...op.get(l.rowBytes), ...op.i32(r), ...op.i32Mul, ...op.i32Add]), ...op.f32Load(0), ...op.f64PromoteF32];
    // sums[c] += term(c) over every column, px walking the row(s) from x
    const pass = (term: number[], rowsPerPass: number) => [
      ...op.get(l.sums), ...op.set(l.ps), ...op.get(l.x), ...op.set(l.px),
      ...countDown(l.left, op.get(l.columns), [
        ...op.get(l.ps), ...f64([...op.get(l.ps), ...op.f64Load(0)], op.f64Add, term), ...op.f64Store(0),
        ...advance(l.ps, 8), ...advance(l.px, 4),
      ]),
      ...op.get(l.x), ...op.get(l.rowBytes), ...op.i32(rowsPerPass), ...op.i32Mul, ...op.i32Add, ...op.set(l.x),
    ];
    return [
      ...op.get(l.columns), ...op.i32(2), ...op.i32Shl, ...op.set(l.rowBytes),
      ...zeroSums(l.sums, l.columns, l.ps, l.left),
      // (x0 + x1) + (x2 + x3), four rows a pass, then the rows left one a pass
      ...countDown(l.row, [...op.get(l.rows), ...op.i32(2), 0x76 /* i32.shr_u */], pass(f64(f64(at(0), op.f64Add, at(1)), op.f64Add, f64(at(2), op.f64Add, at(3))), 4)),
      ...countDown(l.row, [...op.get(l.rows), ...op.i32(3), 0x71 /* i32.and */], pass(at(0), 1)),
      ...storeSums(l.sums, l.out, l.columns, l.ps, l.target, l.left),
    ];
  });

const sumOfSquares = fn('sumOfSquares',
  [['x', I32], ['n', I32], ['out', I32]],
  [['left', I32], ['sum', F32], ['xi', F32]],
  (l) => [
    ...op.f32Zero, ...op.set(l.sum),
    ...countDown(l.left, op.get(l.n), [
      ...op.get(l.x), ...op.f32Load(0), ...op.set(l.xi),
      ...op.get(l.sum), ...op.get(l.xi), ...op.get(l.xi), ...op.f32Mul, ...op.f32Add, ...op.set(l.sum),
      ...advance(l.x, 4),
    ]),
    ...op.get(l.out), ...op.get(l.sum), ...op.f32Store(0),
  ]);

/** The module's bytes; `shared` when the backend's memory is a shared one (the threaded build). */
export function heapLoopsModule(shared: boolean): Uint8Array {
  return wasmModule([geluTanhGrad, adamwStep, rowNormGrad, columnSums, sumOfSquares], shared, MAX_PAGES);
}

const instances = new WeakMap<BackendWasm, HeapLoops>();

/** The loops bound to `backend`'s heap (compiled once per backend). */
export function heapLoops(backend: BackendWasm): HeapLoops {
  const known = instances.get(backend);
  if (known) return known;
  const { memory, shared } = backendMemory(backend, 'heapLoops');
  const made = instantiate(heapLoopsModule(shared), memory) as unknown as HeapLoops;
  instances.set(backend, made);
  return made;
}

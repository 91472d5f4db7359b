import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendMemory, countDown, F32, F64, heapAddress, I32, instantiate, MAX_PAGES, op, V128, wasmModule, type WasmFunction } from './wasm-encoder';

/**
 * The element and row loops of the project's own kernels (GeluArgument, GeluTanhGrad, RowNormForward, RowNormGrad,
 * AdamWStep, SquaredNorm, SoftmaxGrad, the leading-axis Sum, the copies of Slice, SplitV and Concat, and
 * Transpose's of the last two axes) as wasm functions on the backend's heap. GeluTanhGrad, RowNormGrad, AdamWStep
 * and the Sum compute in float64 from float32 inputs and round once to float32 on store, with the same operations
 * in the same order as the formula in their kernels' documentation, so the results are what those formulas give in
 * JS, bit for bit (float64 +, -, *, / and sqrt are correctly rounded in both; float32 -> float64 is exact and
 * float64 -> float32 rounds to nearest even in both); `geluArgument`, `rowNormForward`, `sumOfSquares`,
 * `softmaxGrad` and AdamW's gradient scale compute in float32, as the tf ops they replace. They ran 2-4x faster
 * than the same loops in JS, which copied chunks of the heap into scratch arrays to run at all well.
 *
 * Arguments are byte addresses into the heap and counts; float64 sums that outlive a row go to `sums`, a scratch
 * area of at least `columns` float64 values.
 */
export interface HeapLoops {
  /** out = x (linear + quadratic x^2) for n values, in float32 as tf ops round it (see `geluArgumentConfig`). */
  geluArgument(x: number, out: number, n: number, linear: number, quadratic: number): void;
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
  /**
   * The gradient of a softmax over rows of `width` from dy and the softmax y, as tfjs's gradient of Softmax rounds
   * it in float32: p = dy y, s = the sum of p along the row from +0 in order, dx = p - s y.
   */
  softmaxGrad(dy: number, y: number, dx: number, rows: number, width: number): void;
  /** `runs` copies of `runBytes` bytes, the r-th from source + r * sourceStride to target + r * targetStride. */
  copyRuns(source: number, sourceStride: number, target: number, targetStride: number, runBytes: number, runs: number): void;
  /** `count` [rows, cols] matrices of 32-bit values at `source`, each transposed to [cols, rows] at `target`. */
  transposeMatrices(source: number, target: number, rows: number, cols: number, count: number): void;
  /**
   * y, xhat and rstd of a LayerNorm (`center` 1) or RMSNorm (0) over rows of `width`, in float32 as tf ops round
   * them (see `rowNormForwardConfig`).
   */
  rowNormForward(x: number, gain: number, bias: number, out: number, xhat: number, rstd: number, rows: number, width: number, eps: number, center: number, hasBias: number): void;
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
/** A binary operation (`operation`: float64 or f64x2) of two instruction sequences' values. */
const bin = (a: number[], operation: number[], b: number[]) => [...a, ...b, ...operation];
/** The steps of `width` values (a power of two) in the count in local `n`, and the values left after them. */
const steps = (n: number, width: number) => [...op.get(n), ...op.i32(Math.log2(width)), ...op.i32ShrU];
const leftOver = (n: number, width: number) => [...op.get(n), ...op.i32(width - 1), ...op.i32And];

/**
 * An element loop's arithmetic on one value a step (float64) or two (the lanes of f64x2): each lane of an f64x2
 * operation rounds exactly as the float64 operation does, so a loop takes two values a step and then the last
 * one alone, with the same bits as one at a time.
 */
interface Lanes {
  /** Values a step. */
  width: 1 | 2;
  /** float32 values at the address in local `pointer`, as float64. */
  load(pointer: number): number[];
  /** float32 values at the address that `address` pushes, as float64. */
  loadAt(address: number[]): number[];
  /** float64 values at the address in local `pointer`, and `value` stored there. */
  loadF64(pointer: number): number[];
  storeF64(pointer: number, value: number[]): number[];
  /** float32 values at `pointer` times the float32 in local `factor` (float32 products), as float64. */
  loadScaled(pointer: number, factor: number): number[];
  /** Pushes the address in local `pointer`, then `value` is stored there as float32 (rounded). */
  store(pointer: number, value: number[]): number[];
  /** The float64 in local `local`, or the constant `value`, in every lane. */
  get(local: number): number[];
  constant(value: number): number[];
  add: number[]; sub: number[]; mul: number[]; div: number[]; sqrt: number[];
}

const ONE: Lanes = {
  width: 1, load, store,
  loadAt: (address) => [...address, ...op.f32Load(0), ...op.f64PromoteF32],
  loadF64: (pointer) => [...op.get(pointer), ...op.f64Load(0)],
  storeF64: (pointer, value) => [...op.get(pointer), ...value, ...op.f64Store(0)],
  loadScaled: (pointer, factor) => [...op.get(pointer), ...op.f32Load(0), ...op.get(factor), ...op.f32Mul, ...op.f64PromoteF32],
  get: (local) => op.get(local), constant: (value) => op.f64(value),
  add: op.f64Add, sub: op.f64Sub, mul: op.f64Mul, div: op.f64Div, sqrt: op.f64Sqrt,
};

const TWO: Lanes = {
  width: 2,
  load: (pointer) => TWO.loadAt(op.get(pointer)),
  loadAt: (address) => [...address, ...op.v128Load64Zero(0), ...op.f64x2PromoteLowF32x4],
  loadF64: (pointer) => [...op.get(pointer), ...op.v128Load(0)],
  storeF64: (pointer, value) => [...op.get(pointer), ...value, ...op.v128Store(0)],
  loadScaled: (pointer, factor) => [...op.get(pointer), ...op.v128Load64Zero(0), ...op.get(factor), ...op.f32x4Splat, ...op.f32x4Mul, ...op.f64x2PromoteLowF32x4],
  store: (pointer, value) => [...op.get(pointer), ...value, ...op.f32x4DemoteF64x2Zero, ...op.v128Store64Lane0(0)],
  get: (local) => [...op.get(local), ...op.f64x2Splat], constant: (value) => [...op.f64(value), ...op.f64x2Splat],
  add: op.f64x2Add, sub: op.f64x2Sub, mul: op.f64x2Mul, div: op.f64x2Div, sqrt: op.f64x2Sqrt,
};

/**
 * `step` over the count in local `n`: two values a step while two are left, then the last one alone; each step
 * then moves every local in `pointers` on by its values' bytes (4, float32, unless given as [local, bytes]).
 * `value` names a step's value locals: each has a float64 local `name` and a v128 local `name + 'Pair'` (see
 * {@link valueLocals}), chosen by the step's lanes.
 */
function elementLoop(n: number, left: number, pointers: Array<number | [number, number]>, step: (lanes: Lanes, value: (name: string) => number) => number[], l: Record<string, number>): number[] {
  const pass = (lanes: Lanes, count: number[]) => countDown(left, count, [
    ...step(lanes, (name) => l[lanes.width === 1 ? name : `${name}Pair`]),
    ...pointers.flatMap((pointer) => (typeof pointer === 'number' ? advance(pointer, 4 * lanes.width) : advance(pointer[0], pointer[1] * lanes.width))),
  ]);
  return [...pass(TWO, steps(n, 2)), ...pass(ONE, leftOver(n, 2))];
}

/** Locals [name, F64] and [name + 'Pair', V128] for each name (see {@link elementLoop}). */
const valueLocals = (...names: string[]): Array<[string, number]> => names.flatMap((name) => [[name, F64], [`${name}Pair`, V128]] as Array<[string, number]>);

/**
 * float32 arithmetic on one value a step or four (the lanes of f32x4 round as float32 operations do); `load` and
 * `store` take the address on the stack (store: then the value), `splat` puts a float32 in every lane.
 */
interface Lanes32 {
  width: 1 | 4;
  load: number[]; store: number[]; splat: number[];
  add: number[]; sub: number[]; mul: number[];
}

const F32_ONE: Lanes32 = { width: 1, load: op.f32Load(0), store: op.f32Store(0), splat: [], add: op.f32Add, sub: op.f32Sub, mul: op.f32Mul };
const F32_FOUR: Lanes32 = {
  width: 4, load: op.v128Load(0), store: op.v128Store(0), splat: op.f32x4Splat, add: op.f32x4Add, sub: op.f32x4Sub, mul: op.f32x4Mul,
};

/**
 * `step` over the count in local `n`: four values a step while four are left, then one at a time; each step then
 * moves every local in `pointers` on by its values' bytes (float32).
 */
function float32Loop(n: number, left: number, pointers: number[], step: (lanes: Lanes32) => number[]): number[] {
  const pass = (lanes: Lanes32, count: number[]) => countDown(left, count, [...step(lanes), ...pointers.flatMap((pointer) => advance(pointer, 4 * lanes.width))]);
  return [...pass(F32_FOUR, steps(n, 4)), ...pass(F32_ONE, leftOver(n, 4))];
}

const geluTanhGrad = fn('geluTanhGrad',
  [['x', I32], ['s', I32], ['dy', I32], ['dx', I32], ['n', I32], ['slope', F64], ['cubic', F64]],
  [['left', I32], ...valueLocals('xi', 'si')],
  (l) => elementLoop(l.n, l.left, [l.x, l.s, l.dy, l.dx], (v, value) => {
    const [xi, si] = [value('xi'), value('si')];
    return [
      ...v.load(l.x), ...op.set(xi), ...v.load(l.s), ...op.set(si),
      // dy * (s + x * s * (1 - s) * slope * (1 + cubic * x * x)), left to right as JS evaluates it
      ...v.store(l.dx, bin(v.load(l.dy), v.mul, bin(op.get(si), v.add,
        bin(bin(bin(bin(op.get(xi), v.mul, op.get(si)), v.mul, bin(v.constant(1), v.sub, op.get(si))), v.mul, v.get(l.slope)),
          v.mul, bin(v.constant(1), v.add, bin(bin(v.get(l.cubic), v.mul, op.get(xi)), v.mul, op.get(xi))))))),
    ];
  }, l));

const adamwStep = fn('adamwStep',
  [['p', I32], ['m', I32], ['v', I32], ['g', I32], ['pOut', I32], ['mOut', I32], ['vOut', I32], ['n', I32], ['gradScale', F32],
    ['lr', F64], ['beta1', F64], ['oneMinusBeta1', F64], ['beta2', F64], ['oneMinusBeta2', F64], ['eps', F64],
    ['weightDecay', F64], ['correction1', F64], ['correction2', F64]],
  [['left', I32], ...valueLocals('gi', 'mi', 'vi', 'pi')],
  (l) => elementLoop(l.n, l.left, [l.p, l.m, l.v, l.g, l.pOut, l.mOut, l.vOut], (x, value) => {
    const [gi, mi, vi, pi] = ['gi', 'mi', 'vi', 'pi'].map(value);
    return [
      ...x.loadScaled(l.g, l.gradScale), ...op.set(gi), ...x.load(l.p), ...op.set(pi),
      // m' = b1 m + (1 - b1) g; v' = b2 v + (1 - b2) g g
      ...bin(bin(x.get(l.beta1), x.mul, x.load(l.m)), x.add, bin(x.get(l.oneMinusBeta1), x.mul, op.get(gi))), ...op.set(mi),
      ...bin(bin(x.get(l.beta2), x.mul, x.load(l.v)), x.add, bin(bin(x.get(l.oneMinusBeta2), x.mul, op.get(gi)), x.mul, op.get(gi))), ...op.set(vi),
      ...x.store(l.mOut, op.get(mi)), ...x.store(l.vOut, op.get(vi)),
      // p' = p - lr (m' / c1 / (sqrt(v' / c2) + eps) + wd p)
      ...x.store(l.pOut, bin(op.get(pi), x.sub, bin(x.get(l.lr), x.mul, bin(
        bin(bin(op.get(mi), x.div, x.get(l.correction1)), x.div,
          bin([...bin(op.get(vi), x.div, x.get(l.correction2)), ...x.sqrt], x.add, x.get(l.eps))),
        x.add, bin(x.get(l.weightDecay), x.mul, op.get(pi)))))),
    ];
  }, l));

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
          ...bin(op.get(l.dyc), op.f64Mul, load(l.pg)), ...op.set(l.gc),
          ...bin(op.get(l.sumG), op.f64Add, op.get(l.gc)), ...op.set(l.sumG),
          ...bin(op.get(l.sumGX), op.f64Add, bin(op.get(l.gc), op.f64Mul, op.get(l.xc))), ...op.set(l.sumGX),
          ...op.get(l.ps), ...bin([...op.get(l.ps), ...op.f64Load(0)], op.f64Add, bin(op.get(l.dyc), op.f64Mul, op.get(l.xc))), ...op.f64Store(0),
        ]),
        // meanG = center ? sumG / width : 0; meanGX = sumGX / width
        ...op.f64(0), ...op.set(l.meanG),
        ...op.get(l.center), ...op.if, ...bin(op.get(l.sumG), op.f64Div, op.get(l.widthF)), ...op.set(l.meanG), ...op.end,
        ...bin(op.get(l.sumGX), op.f64Div, op.get(l.widthF)), ...op.set(l.meanGX),
        ...load(l.rstd), ...op.set(l.scale),
        // dx = rstd (dy gain - meanG - xhat meanGX), two columns a step
        ...op.get(l.gain), ...op.set(l.pg), ...op.get(l.dy), ...op.set(l.rowDy), ...op.get(l.xhat), ...op.set(l.rowXhat),
        ...elementLoop(l.width, l.left, [l.rowDy, l.rowXhat, l.pg, l.dx], (x) => x.store(l.dx, bin(x.get(l.scale), x.mul,
          bin(bin(bin(x.load(l.rowDy), x.mul, x.load(l.pg)), x.sub, x.get(l.meanG)), x.sub, bin(x.load(l.rowXhat), x.mul, x.get(l.meanGX))))), l),
        ...op.get(l.rowDy), ...op.set(l.dy), ...op.get(l.rowXhat), ...op.set(l.xhat), ...advance(l.rstd, 4),
      ]),
      ...storeSums(l.sums, l.dGain, l.width, l.ps, l.pg, l.left),
    ];
  });

const columnSums = fn('columnSums',
  [['x', I32], ['rows', I32], ['columns', I32], ['sums', I32], ['out', I32]],
  [['row', I32], ['left', I32], ['ps', I32], ['px', I32], ['target', I32], ['rowBytes', I32]],
  (l) => {
    const at = (r: number) => [...op.get(l.px), ...(r === 0 ? [] : [...op.get(l.rowBytes), ...op.i32(r), ...op.i32Mul, ...op.i32Add])];
    // sums[c] += term(c) over every column, two a step, px walking the row(s) from x
    const pass = (term: (x: Lanes) => number[], rowsPerPass: number) => [
      ...op.get(l.sums), ...op.set(l.ps), ...op.get(l.x), ...op.set(l.px),
      ...elementLoop(l.columns, l.left, [[l.ps, 8], l.px], (x) => x.storeF64(l.ps, bin(x.loadF64(l.ps), x.add, term(x))), l),
      ...op.get(l.x), ...op.get(l.rowBytes), ...op.i32(rowsPerPass), ...op.i32Mul, ...op.i32Add, ...op.set(l.x),
    ];
    return [
      ...op.get(l.columns), ...op.i32(2), ...op.i32Shl, ...op.set(l.rowBytes),
      ...zeroSums(l.sums, l.columns, l.ps, l.left),
      // (x0 + x1) + (x2 + x3), four rows a pass, then the rows left one a pass
      ...countDown(l.row, steps(l.rows, 4),
        pass((x) => bin(bin(x.loadAt(at(0)), x.add, x.loadAt(at(1))), x.add, bin(x.loadAt(at(2)), x.add, x.loadAt(at(3)))), 4)),
      ...countDown(l.row, leftOver(l.rows, 4), pass((x) => x.loadAt(at(0)), 1)),
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

/**
 * A LayerNorm (`center` 1) or RMSNorm (0) of rows of `width` in float32, every operation rounded as the tf ops of
 * the model's norm round it: mean = (the row's sum from +0 in order) / width (0 without centering, and x - 0 is
 * x), rstd = 1 / sqrt((the sum of (x - mean)^2 in order) / width + eps), xhat = (x - mean) rstd, then
 * out = xhat gain (+ bias with `hasBias`). Writes out, xhat and rstd (one per row). Four rows a pass keep four
 * independent sums going (each still in its row's order); the last pass runs four values a step.
 */
const rowNormForward = fn('rowNormForward',
  [['x', I32], ['gain', I32], ['bias', I32], ['out', I32], ['xhat', I32], ['rstd', I32], ['rows', I32], ['width', I32], ['eps', F32], ['center', I32], ['hasBias', I32]],
  [['pass', I32], ['left', I32], ['px', I32], ['pg', I32], ['pb', I32], ['p0', I32], ['p1', I32], ['p2', I32], ['p3', I32], ['rowBytes', I32],
    ['sum0', F32], ['sum1', F32], ['sum2', F32], ['sum3', F32], ['mean0', F32], ['mean1', F32], ['mean2', F32], ['mean3', F32],
    ['r0', F32], ['r1', F32], ['r2', F32], ['r3', F32], ['mean', F32], ['r', F32], ['centered', F32], ['count', F32], ['h', V128]],
  (l) => {
    // h = (x - mean) rstd, stored to xhat; out = h gain (+ bias)
    const normalise = (withBias: boolean) => float32Loop(l.width, l.left, [l.px, l.pg, l.pb, l.xhat, l.out], (x) => {
      const h = x.width === 4 ? l.h : l.centered;
      return [
        ...op.get(l.px), ...x.load, ...op.get(l.mean), ...x.splat, ...x.sub, ...op.get(l.r), ...x.splat, ...x.mul, ...op.set(h),
        ...op.get(l.xhat), ...op.get(h), ...x.store,
        ...op.get(l.out), ...op.get(h), ...op.get(l.pg), ...x.load, ...x.mul, ...(withBias ? [...op.get(l.pb), ...x.load, ...x.add] : []), ...x.store,
      ];
    });
    // `rows` rows from x: their sums side by side, then each row's last pass
    const block = (rows: number) => {
      const each = (f: (q: number) => number[]) => Array.from({ length: rows }, (_, q) => f(q)).flat();
      const sums = (term: (q: number) => number[]) => [
        ...each((q) => [...op.f32Zero, ...op.set(l.sum0 + q), ...op.get(l.x), ...op.get(l.rowBytes), ...op.i32(q), ...op.i32Mul, ...op.i32Add, ...op.set(l.p0 + q)]),
        ...countDown(l.left, op.get(l.width), each((q) => [...op.get(l.sum0 + q), ...term(q), ...op.f32Add, ...op.set(l.sum0 + q), ...advance(l.p0 + q, 4)])),
      ];
      const centered = (q: number) => [...op.get(l.p0 + q), ...op.f32Load(0), ...op.get(l.mean0 + q), ...op.f32Sub];
      return [
        ...each((q) => [...op.f32Zero, ...op.set(l.mean0 + q)]),
        ...op.get(l.center), ...op.if,
        ...sums((q) => [...op.get(l.p0 + q), ...op.f32Load(0)]),
        ...each((q) => [...op.get(l.sum0 + q), ...op.get(l.count), ...op.f32Div, ...op.set(l.mean0 + q)]),
        ...op.end,
        ...sums((q) => [...centered(q), ...op.set(l.centered), ...op.get(l.centered), ...op.get(l.centered), ...op.f32Mul]),
        // r = 1 / sqrt(sum / width + eps)
        ...each((q) => [
          ...op.f32(1), ...op.get(l.sum0 + q), ...op.get(l.count), ...op.f32Div, ...op.get(l.eps), ...op.f32Add, ...op.f32Sqrt, ...op.f32Div, ...op.set(l.r0 + q),
          ...op.get(l.rstd), ...op.get(l.r0 + q), ...op.f32Store(0), ...advance(l.rstd, 4),
        ]),
        ...op.get(l.x), ...op.set(l.px),
        ...each((q) => [
          ...op.get(l.mean0 + q), ...op.set(l.mean), ...op.get(l.r0 + q), ...op.set(l.r),
          ...op.get(l.gain), ...op.set(l.pg), ...op.get(l.bias), ...op.set(l.pb),
          ...op.get(l.hasBias), ...op.if, ...normalise(true), ...op.else, ...normalise(false), ...op.end,
        ]),
        ...op.get(l.px), ...op.set(l.x),
      ];
    };
    return [
      ...op.get(l.width), ...op.f32ConvertI32U, ...op.set(l.count),
      ...op.get(l.width), ...op.i32(4), ...op.i32Mul, ...op.set(l.rowBytes),
      ...countDown(l.pass, steps(l.rows, 4), block(4)),
      ...countDown(l.pass, leftOver(l.rows, 4), block(1)),
    ];
  });

/** out = x (linear + quadratic (x x)) in float32, four values a step, then the rest one by one. */
const geluArgument = fn('geluArgument',
  [['x', I32], ['out', I32], ['n', I32], ['linear', F32], ['quadratic', F32]],
  [['left', I32], ['xi', F32], ['xv', V128]],
  (l) => float32Loop(l.n, l.left, [l.x, l.out], (v) => {
    const xi = v.width === 4 ? l.xv : l.xi;
    return [
      ...op.get(l.x), ...v.load, ...op.set(xi),
      ...op.get(l.out), ...op.get(xi), ...op.get(l.linear), ...v.splat, ...op.get(l.quadratic), ...v.splat,
      ...op.get(xi), ...op.get(xi), ...v.mul, ...v.mul, ...v.add, ...v.mul, ...v.store,
    ];
  }));

const softmaxGrad = fn('softmaxGrad',
  [['dy', I32], ['y', I32], ['dx', I32], ['rows', I32], ['width', I32]],
  [['row', I32], ['left', I32], ['pdy', I32], ['py', I32], ['sum', F32]],
  (l) => {
    // pdy, py from the row's start (dy, y)
    const rowStart = [...op.get(l.dy), ...op.set(l.pdy), ...op.get(l.y), ...op.set(l.py)];
    return countDown(l.row, op.get(l.rows), [
      // s = sum of f32(dy y) in order
      ...rowStart, ...op.f32Zero, ...op.set(l.sum),
      ...countDown(l.left, op.get(l.width), [
        ...op.get(l.sum), ...op.get(l.pdy), ...op.f32Load(0), ...op.get(l.py), ...op.f32Load(0), ...op.f32Mul, ...op.f32Add, ...op.set(l.sum),
        ...advance(l.pdy, 4), ...advance(l.py, 4),
      ]),
      // dx = f32(dy y) - f32(s y)
      ...rowStart,
      ...float32Loop(l.width, l.left, [l.pdy, l.py, l.dx], (v) => [
        ...op.get(l.dx),
        ...op.get(l.pdy), ...v.load, ...op.get(l.py), ...v.load, ...v.mul,
        ...op.get(l.sum), ...v.splat, ...op.get(l.py), ...v.load, ...v.mul, ...v.sub, ...v.store,
      ]),
      ...op.get(l.pdy), ...op.set(l.dy), ...op.get(l.py), ...op.set(l.y),
    ]);
  });

const copyRuns = fn('copyRuns',
  [['source', I32], ['sourceStride', I32], ['target', I32], ['targetStride', I32], ['runBytes', I32], ['runs', I32]],
  [['left', I32]],
  (l) => countDown(l.left, op.get(l.runs), [
    ...op.get(l.target), ...op.get(l.source), ...op.get(l.runBytes), ...op.memoryCopy,
    ...op.get(l.source), ...op.get(l.sourceStride), ...op.i32Add, ...op.set(l.source),
    ...op.get(l.target), ...op.get(l.targetStride), ...op.i32Add, ...op.set(l.target),
  ]));

/**
 * Transposes `count` [rows, cols] matrices of 32-bit values from `source` to `target` ([cols, rows] each): four
 * source rows a pass, in blocks of 4 x 4 (four vector loads, eight shuffles, four vector stores), then their last
 * columns one 4-value store each; then the rows left one value at a time.
 */
const transposeMatrices = fn('transposeMatrices',
  [['source', I32], ['target', I32], ['rows', I32], ['cols', I32], ['count', I32]],
  [['matrix', I32], ['pass', I32], ['left', I32], ['row', I32], ['out', I32], ['p0', I32], ['p1', I32], ['p2', I32], ['p3', I32], ['o', I32],
    ['rowBytes', I32], ['outStride', I32], ['r0', V128], ['r1', V128], ['r2', V128], ['r3', V128], ['low', V128], ['high', V128]],
  (l) => {
    const nextColumns = (columns: number) => [
      ...[0, 1, 2, 3].flatMap((r) => advance(l.p0 + r, 4 * columns)),
      ...op.get(l.o), ...op.get(l.outStride), ...op.i32(columns), ...op.i32Mul, ...op.i32Add, ...op.set(l.o),
    ];
    // rows r0..r3 = [x0 x1 x2 x3] of four source rows -> target rows j = [r0_j r1_j r2_j r3_j]
    const block = [
      ...[0, 1, 2, 3].flatMap((r) => [...op.get(l.p0 + r), ...op.v128Load(0), ...op.set(l.r0 + r)]),
      ...[0, 1].flatMap((half) => [
        ...op.get(l.r0), ...op.get(l.r1), ...op.shuffle32(half === 0 ? [0, 4, 1, 5] : [2, 6, 3, 7]), ...op.set(l.low),
        ...op.get(l.r2), ...op.get(l.r3), ...op.shuffle32(half === 0 ? [0, 4, 1, 5] : [2, 6, 3, 7]), ...op.set(l.high),
        ...[0, 1].flatMap((j) => [
          ...op.get(l.o), ...(2 * half + j === 0 ? [] : [...op.get(l.outStride), ...op.i32(2 * half + j), ...op.i32Mul, ...op.i32Add]),
          ...op.get(l.low), ...op.get(l.high), ...op.shuffle32(j === 0 ? [0, 1, 4, 5] : [2, 3, 6, 7]), ...op.v128Store(0),
        ]),
      ]),
      ...nextColumns(4),
    ];
    const column = (rows: number) => [
      ...op.get(l.o),
      ...(rows === 1
        ? [...op.get(l.p0), ...op.i32Load(0), ...op.i32Store(0)]
        : [...op.get(l.p0), ...op.i32Load(0), ...op.i32x4Splat,
          ...[1, 2, 3].flatMap((r) => [...op.get(l.p0 + r), ...op.i32Load(0), ...op.i32x4ReplaceLane(r)]), ...op.v128Store(0)]),
      ...nextColumns(1),
    ];
    const rowsOf = (rows: number) => [
      // p_r = row + r rowBytes: the pass's source rows from the column on; o: the target row of the column
      ...[0, 1, 2, 3].flatMap((r) => [...op.get(l.row), ...op.get(l.rowBytes), ...op.i32(r), ...op.i32Mul, ...op.i32Add, ...op.set(l.p0 + r)]),
      ...op.get(l.out), ...op.set(l.o),
      ...(rows === 4 ? countDown(l.left, steps(l.cols, 4), block) : []),
      ...countDown(l.left, rows === 4 ? leftOver(l.cols, 4) : op.get(l.cols), column(rows)),
      ...op.get(l.row), ...op.get(l.rowBytes), ...op.i32(rows), ...op.i32Mul, ...op.i32Add, ...op.set(l.row),
      ...advance(l.out, 4 * rows),
    ];
    return [
      ...op.get(l.cols), ...op.i32(4), ...op.i32Mul, ...op.set(l.rowBytes),
      ...op.get(l.rows), ...op.i32(4), ...op.i32Mul, ...op.set(l.outStride),
      ...countDown(l.matrix, op.get(l.count), [
        ...op.get(l.source), ...op.set(l.row), ...op.get(l.target), ...op.set(l.out),
        ...countDown(l.pass, steps(l.rows, 4), rowsOf(4)),
        ...countDown(l.pass, leftOver(l.rows, 4), rowsOf(1)),
        ...op.get(l.source), ...op.get(l.rowBytes), ...op.get(l.rows), ...op.i32Mul, ...op.i32Add, ...op.set(l.source),
        ...op.get(l.target), ...op.get(l.rowBytes), ...op.get(l.rows), ...op.i32Mul, ...op.i32Add, ...op.set(l.target),
      ]),
    ];
  });

/** The module's bytes; `shared` when the backend's memory is a shared one (the threaded build). */
export function heapLoopsModule(shared: boolean): Uint8Array {
  return wasmModule([geluTanhGrad, geluArgument, rowNormForward, adamwStep, rowNormGrad, columnSums, sumOfSquares, softmaxGrad, copyRuns, transposeMatrices], shared, MAX_PAGES);
}

const instances = new WeakMap<BackendWasm, HeapLoops>();

/** Runs `use` with the heap address of a temporary buffer of `count` float64 values (running sums), freed after. */
export function withFloat64Sums<T>(backend: BackendWasm, count: number, use: (sums: number) => T): T {
  const sums = backend.makeOutput([2 * count], 'float32');
  try {
    return use(heapAddress(backend, sums));
  } finally {
    backend.disposeData(sums.dataId);
  }
}

/** The loops bound to `backend`'s heap (compiled once per backend). */
export function heapLoops(backend: BackendWasm): HeapLoops {
  const known = instances.get(backend);
  if (known) return known;
  const { memory, shared } = backendMemory(backend, 'heapLoops');
  const made = instantiate(heapLoopsModule(shared), memory) as unknown as HeapLoops;
  instances.set(backend, made);
  return made;
}

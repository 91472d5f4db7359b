/**
 * Sampling weights exp((z_i − z_max) / T) of a decoding step's logit rows, shared between this thread and worker
 * threads: with a large vocabulary they are the host's largest cost per step (8 rows x 50,257 ids is 400k calls of
 * Math.exp, about a tenth of a GPT-2-small step on a 2-core CPU). Every thread runs the same two functions below
 * (the workers run their source text), so the weights and their sums, and with them every draw, are bit-identical
 * to computing them on this thread.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** Index of the largest value (the first of ties). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** exp((z_i − top) / T) of every id into `out` (float64, as Math.exp returns), and their sum in id order. */
export function scaledExps(logits: Float32Array, top: number, temperature: number, out: Float64Array): number {
  let total = 0;
  if (temperature === 1) {
    // x / 1 is x exactly: the same weights without a division per id
    for (let i = 0; i < logits.length; i++) total += out[i] = Math.exp(logits[i] - top);
  } else {
    for (let i = 0; i < logits.length; i++) total += out[i] = Math.exp((logits[i] - top) / temperature);
  }
  return total;
}

/** One row's weights into `out`, scaled by its largest logit; returns their sum. */
function weighRow(row: Float32Array, temperature: number, out: Float64Array): number {
  return scaledExps(row, row[argmax(row)], temperature, out);
}

/** One row's weights (a view valid until the next {@link weighRows}) and their sum. */
export interface RowWeights { weights: Float64Array; total: number }

/** Below this many logits in a step, the rows are weighed on this thread alone (waking a worker costs more). */
export const PARALLEL_LOGITS = 1 << 17;

/** How long to wait for a worker's rows before computing them here and retiring the workers. */
const WORKER_TIMEOUT_MS = 10_000;

/**
 * A worker's loop: for each job message, weigh its rows of the shared logits into the shared weights, then post the
 * job number (or its negative on an error) to its control word.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
${argmax.toString()}
${scaledExps.toString()}
${weighRow.toString()}
const control = new Int32Array(workerData.control);
let logits, weights, totals;
parentPort.on('message', (job) => {
  if (job.buffers) [logits, weights, totals] = [new Float32Array(job.buffers.logits), new Float64Array(job.buffers.weights), new Float64Array(job.buffers.totals)];
  let done = job.number;
  try {
    for (const index of job.rows) {
      totals[index] = weighRow(logits.subarray(index * job.vocab, (index + 1) * job.vocab), job.temperature, weights.subarray(index * job.vocab, (index + 1) * job.vocab));
    }
  } catch (error) {
    done = -job.number;
  }
  Atomics.store(control, workerData.slot, done);
  Atomics.notify(control, workerData.slot);
});
Atomics.store(control, workerData.slot, 0);
Atomics.notify(control, workerData.slot);`;

/** Shared buffers: each step's rows of logits (copied in), their weights and sums. */
interface Buffers { logits: SharedArrayBuffer; weights: SharedArrayBuffer; totals: SharedArrayBuffer }

/** The worker threads (one per further CPU, at most 3) and what they were last given. */
class WeighingPool {
  private readonly control: Int32Array;
  private readonly workers: { worker: Worker; slot: number; buffersSent?: Buffers }[] = [];
  private buffers?: Buffers;
  private job = 0;
  /** False once a worker failed or timed out: every later step is weighed here. */
  private healthy = true;

  constructor(count: number) {
    this.control = new Int32Array(new SharedArrayBuffer(4 * count));
    this.control.fill(-1); // -1 until a worker has started
    for (let slot = 0; slot < count; slot++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { control: this.control.buffer, slot } });
      worker.unref(); // never keeps the process alive
      worker.on('error', () => { this.healthy = false; });
      this.workers.push({ worker, slot });
    }
  }

  /** Workers that have started and can take rows now (none while they boot, or after a failure). */
  ready(): { worker: Worker; slot: number; buffersSent?: Buffers }[] {
    return this.healthy ? this.workers.filter((w) => Atomics.load(this.control, w.slot) >= 0) : [];
  }

  /** Buffers for `rows` rows of `vocab` logits, grown (to a power of two) when too small. */
  private buffersFor(rows: number, vocab: number): Buffers {
    const floats = rows * vocab;
    if (!this.buffers || this.buffers.logits.byteLength < 4 * floats || this.buffers.totals.byteLength < 8 * rows) {
      const size = 2 ** Math.ceil(Math.log2(floats));
      this.buffers = { logits: new SharedArrayBuffer(4 * size), weights: new SharedArrayBuffer(8 * size), totals: new SharedArrayBuffer(8 * 2 ** Math.ceil(Math.log2(rows))) };
    }
    return this.buffers;
  }

  /** See {@link weighRows}; undefined when no worker is ready (the caller weighs the rows itself). */
  weigh(values: Float32Array, width: number, vocab: number, rows: number[], temperature: number): Map<number, RowWeights> | undefined {
    const workers = this.ready();
    if (workers.length === 0) return undefined;
    const buffers = this.buffersFor(rows.length, vocab);
    const [logits, weights, totals] = [new Float32Array(buffers.logits), new Float64Array(buffers.weights), new Float64Array(buffers.totals)];
    rows.forEach((r, index) => logits.set(values.subarray(r * width, r * width + vocab), index * vocab));
    // contiguous shares of the rows (their indices in the shared buffers): this thread's first, then one per worker
    const shares: number[][] = Array.from({ length: workers.length + 1 }, () => []);
    rows.forEach((_, index) => shares[Math.floor((index * shares.length) / rows.length)].push(index));
    const weighHere = (index: number) => {
      totals[index] = weighRow(logits.subarray(index * vocab, (index + 1) * vocab), temperature, weights.subarray(index * vocab, (index + 1) * vocab));
    };
    const number = ++this.job;
    workers.forEach((w, i) => {
      const fresh = w.buffersSent !== buffers;
      w.buffersSent = buffers;
      w.worker.postMessage({ number, rows: shares[i + 1], vocab, temperature, ...(fresh ? { buffers } : {}) });
    });
    for (const index of shares[0]) weighHere(index);
    workers.forEach((w, i) => {
      let state = Atomics.load(this.control, w.slot);
      const deadline = Date.now() + WORKER_TIMEOUT_MS;
      while (Math.abs(state) !== number && Date.now() < deadline) {
        Atomics.wait(this.control, w.slot, state, Math.max(1, deadline - Date.now()));
        state = Atomics.load(this.control, w.slot);
      }
      if (state === number) return;
      // a failed or silent worker: its rows here, and no workers from now on
      this.healthy = false;
      for (const index of shares[i + 1]) weighHere(index);
    });
    return new Map(rows.map((r, index) => [r, { weights: weights.subarray(index * vocab, (index + 1) * vocab), total: totals[index] }]));
  }
}

let pool: WeighingPool | undefined;
/** One row's weights when weighed on this thread (reused: a 152k vocabulary is 1.2 MB of float64 per row). */
let hereWeights = new Float64Array(0);

/**
 * The sampling weights exp((z_i − z_max) / T) of rows `rows` of a step's logits (row r is `values[r * width ...]`,
 * its first `vocab` ids) and their sums, as {@link scaledExps} computes them. With at least {@link PARALLEL_LOGITS}
 * logits in the step, the rows are shared with worker threads (started on first use, one per further CPU);
 * fewer, or on one CPU, they are weighed here. The weights are views that the next call overwrites.
 */
export function weighRows(values: Float32Array, width: number, vocab: number, rows: number[], temperature: number): Map<number, RowWeights> {
  const workerCount = Math.min(os.availableParallelism() - 1, 3);
  if (rows.length > 1 && rows.length * vocab >= PARALLEL_LOGITS && workerCount > 0) {
    pool ??= new WeighingPool(workerCount);
    const shared = pool.weigh(values, width, vocab, rows, temperature);
    if (shared) return shared;
  }
  if (hereWeights.length < rows.length * vocab) hereWeights = new Float64Array(rows.length * vocab);
  return new Map(rows.map((r, index) => {
    const weights = hereWeights.subarray(index * vocab, (index + 1) * vocab);
    return [r, { weights, total: weighRow(values.subarray(r * width, r * width + vocab), temperature, weights) }];
  }));
}

/** Worker threads ready to weigh rows now: 0 before the first large step, while they start, or after a failure. */
export function rowWeightWorkers(): number {
  return pool?.ready().length ?? 0;
}

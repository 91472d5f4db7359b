import os from 'node:os';
import { argmax, PARALLEL_LOGITS, rowWeightWorkers, scaledExps, weighRows } from '../../lib/model/row-weights';
import { RowSampler, sampleToken } from '../../lib/model/sampling';
import { Random } from '../../lib/random';
import { CharTokenizer } from '../../lib/tokenizer/char';

const VOCAB = 40000;
const ROWS = 6; // 240k logits: above PARALLEL_LOGITS, so the rows are shared with workers once they run

/** Rows of logits `width` wide (the last ids beyond `VOCAB` are a padded model vocabulary, never drawn). */
function logitRows(width: number, seed: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: ROWS * width }, () => (random.next() - 0.5) * 10);
}

/** Calls weighRows until the workers (started by the first large call) are ready, or a second has passed. */
async function warmWorkers(values: Float32Array, width: number): Promise<void> {
  for (let waited = 0; rowWeightWorkers() === 0 && waited < 1000; waited += 20) {
    weighRows(values, width, VOCAB, [0, 1, 2, 3, 4, 5], 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the test rows are large enough to be shared', () => {
  expect(ROWS * VOCAB).toBeGreaterThanOrEqual(PARALLEL_LOGITS);
});

test.each([1, 0.7])('weighRows gives each row the weights and sum of scaledExps bit for bit, on worker threads as here (T %p)', async (temperature) => {
  const width = VOCAB + 7;
  const values = logitRows(width, 3);
  await warmWorkers(values, width);
  // one worker per further CPU (at most 3): on a one-CPU machine every row is weighed here
  expect(rowWeightWorkers()).toBe(Math.min(os.availableParallelism() - 1, 3));
  const rows = [0, 2, 3, 5];
  const got = weighRows(values, width, VOCAB, rows, temperature);
  expect([...got.keys()]).toEqual(rows);
  for (const r of rows) {
    const row = values.subarray(r * width, r * width + VOCAB);
    const want = new Float64Array(VOCAB);
    const total = scaledExps(row, row[argmax(row)], temperature, want);
    expect(got.get(r)!.total).toBe(total);
    expect(got.get(r)!.weights).toEqual(want);
  }
});

test('RowSampler.weigh then take draws the tokens sampleToken draws from each row', async () => {
  const width = VOCAB + 7;
  const values = logitRows(width, 4);
  await warmWorkers(values, width);
  const tokenizer = new CharTokenizer(Array.from({ length: VOCAB - 4 }, (_, i) => String.fromCodePoint(0x100 + i)));
  expect(tokenizer.vocabSize).toBe(VOCAB);
  const options = { maxNewTokens: 4, seed: 7, temperature: 1.3 };
  const sampler = new RowSampler(tokenizer, options, ROWS);
  sampler.weigh(values, width);
  const drawn = Array.from({ length: ROWS }, (_, r) => sampler.take(r, values.subarray(r * width, (r + 1) * width)));
  // RowSampler seeds row r's generator with (seed * 1000003 + r) >>> 0
  const want = Array.from({ length: ROWS }, (_, r) => sampleToken(values.subarray(r * width, r * width + VOCAB), options, new Random((7 * 1000003 + r) >>> 0)));
  expect(drawn).toEqual(want);
  // a row taken from logits other than the ones weighed is weighed anew
  const other = logitRows(width, 5);
  const fresh = new RowSampler(tokenizer, options, ROWS);
  fresh.weigh(values, width);
  expect(fresh.take(0, other.subarray(0, width))).toBe(sampleToken(other.subarray(0, VOCAB), options, new Random((7 * 1000003) >>> 0)));
});

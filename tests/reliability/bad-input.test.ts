/** The bad-input table of the README, one row per test: each input gets one clear error naming file, line or field. */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { loadJsonl } from '../../lib/data/custom';
import { readJsonl } from '../../lib/data/jsonl';
import { MAX_RECORD_BYTES } from '../../lib/data/records';
import { readRationales } from '../../lib/data/rationales';
import type { Example, RationaleRecord } from '../../lib/data/types';
import { loadExperiment } from '../../lib/experiment/load';
import { setConsoleLevel } from '../../lib/log/logger';
import { CausalLM, loadCheckpoint, saveCheckpoint } from '../../lib/model';
import { CharTokenizer } from '../../lib/tokenizer/char';
import { encodeDistillSet } from '../../lib/train/distill';

const dir = mkdtempSync(join(tmpdir(), 'rrl-bad-input-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const mapping = { question: 'q', answer: 'a' };
/** A valid experiment file's content, with `patch` merged in at the top level. */
const experiment = (patch: Record<string, unknown>) => `module.exports = { default: ${JSON.stringify({
  name: 'bad', data: { source: { kind: 'synthetic', task: 'last_letters', size: 20 } }, teacher: { kind: 'offline' },
  student: { arch: 'gpt2', dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 32 }, rewards: { weights: { coherence: 1 } }, ...patch,
})} };`;

beforeAll(async () => {
  setConsoleLevel('error');
  await initBackend('cpu');
});

test('malformed dataset line: file and line', () => {
  const path = file('broken.jsonl', '{"q": "What is 1 + 1?", "a": 2}\n{"q": "What is 2 + 2?", "a": 4\n');
  expect(() => loadJsonl(path, mapping)).toThrow(new RegExp(`^${path}:2: not valid JSON`));
});

test('a record over the size limit: file, line and the limit, for JSONL lines and JSON list items', () => {
  const big = 'x'.repeat(MAX_RECORD_BYTES);
  const lines = file('big.jsonl', `{"q": "What is 1 + 1?", "a": 2}\n{"q": "${big}", "a": 4}\n`);
  expect(() => loadJsonl(lines, mapping)).toThrow(`${lines}:2: record is ${MAX_RECORD_BYTES + 17} bytes, over the limit of ${MAX_RECORD_BYTES} bytes per record (1 MiB); split or shorten it`);
  // Bytes, not characters: 'é' is two bytes in UTF-8, so half the characters are enough.
  const accents = file('accents.jsonl', `{"q": "${'é'.repeat(MAX_RECORD_BYTES / 2)}", "a": 4}\n`);
  expect(() => loadJsonl(accents, mapping)).toThrow(`${accents}:1: record is ${MAX_RECORD_BYTES + 17} bytes`);
  const list = file('big.json', JSON.stringify([{ q: 'What is 1 + 1?', a: 2 }, { q: big, a: 4 }]));
  expect(() => loadJsonl(list, mapping)).toThrow(`${list}: item 1 of the list: record is ${MAX_RECORD_BYTES + 14} bytes, over the limit`);
  // At the limit exactly, a record is read.
  const fits = file('fits.jsonl', `{"q": "${'x'.repeat(MAX_RECORD_BYTES - 17)}", "a": 4}\n`);
  expect(loadJsonl(fits, mapping)[0].question).toHaveLength(MAX_RECORD_BYTES - 17);
});

test('empty question: file, line and field', () => {
  const path = file('empty.jsonl', '{"q": "What is 1 + 1?", "a": 2}\n{"q": "  ", "a": 4}\n');
  expect(() => loadJsonl(path, mapping)).toThrow(`${path}:2: question field "q" must be a non-empty string, got the string "  "`);
});

test('non-UTF-8 bytes in a data file: file and line, not silent replacement characters', () => {
  const latin1 = Buffer.concat([Buffer.from('{"q": "caf\u00e9?", "a": 1}\n{"q": "caf'), Buffer.from([0xe9]), Buffer.from('?", "a": 2}\n')]);
  const path = file('latin1.jsonl', latin1);
  expect(() => loadJsonl(path, mapping)).toThrow(`${path}:2: not valid UTF-8 (bytes 24-46 of the file); save it as UTF-8`);
  expect(() => readJsonl(path)).toThrow(`${path}:2: not valid UTF-8`);
  // A character cut in half by a crash at the end of a file is a torn last line, not an encoding error.
  const record = { exampleId: 'x/1', rationale: 'caf\u00e9', answer: '1', correct: true, strategy: 's', model: 'm' };
  const torn = Buffer.from(`${JSON.stringify(record)}\n${JSON.stringify(record).slice(0, 40)}`);
  const tornPath = file('torn.jsonl', Buffer.concat([torn, Buffer.from('caf\u00e9').subarray(0, 4)]));
  expect(readRationales(tornPath, { onWarning: () => {} })).toHaveLength(1);
});

test('input longer than the context: the start of the question is cut, BOS and target kept, rows counted', () => {
  const tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz ?->.#[]\n0123456789']);
  const examples: Example[] = [
    { id: 'x/0', question: 'short?', answers: ['a'], answerType: 'text' },
    { id: 'x/1', question: `${'long '.repeat(40)}end?`, answers: ['b'], answerType: 'text' },
  ];
  const records: RationaleRecord[] = examples.map((e) => ({ exampleId: e.id, rationale: 'so it is', answer: e.answers[0], correct: true, strategy: 's', model: 'm' }));
  const { rows, truncated } = encodeDistillSet(records, examples, tokenizer, { format: 'fine-tune-cot', alpha: 0.5, maxLength: 48 });
  expect(truncated).toBe(1);
  expect(rows.map((r) => r.truncated)).toEqual([false, true]);
  const long = rows[1];
  expect(long.ids).toHaveLength(48);
  expect(long.ids[0]).toBe(tokenizer.bosId);
  const target = long.ids.filter((_, t) => long.targetMask[t] > 0);
  expect(tokenizer.decode(target, { skipSpecial: true })).toBe(' so it is --> b');
  expect(tokenizer.decode(long.ids.slice(1), { skipSpecial: true })).toMatch(/^.*long end\? ###/); // the end of the question stays
});

describe('checkpoints', () => {
  const tokenizer = CharTokenizer.fromTexts(['abcdef']);
  const shape = { vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 16 };

  test('a checkpoint from a different architecture: the weights file and the tensor that does not fit', async () => {
    const gpt2 = join(dir, 'gpt2');
    const llama = join(dir, 'llama');
    for (const [path, arch] of [[gpt2, 'gpt2'], [llama, 'llama']] as const) {
      const model = CausalLM.create({ arch, ...shape }, { seed: 1 });
      await saveCheckpoint(path, { model, tokenizer });
      model.dispose();
    }
    copyFileSync(join(gpt2, 'model.safetensors'), join(llama, 'model.safetensors')); // llama config, gpt2 weights
    await expect(loadCheckpoint(llama)).rejects.toThrow(new RegExp(`^${join(llama, 'model.safetensors')}: .*(missing|unexpected|shape)`));
  });

  test('a tokenizer that does not match the model: the tokenizer file and both vocabulary sizes', async () => {
    const path = join(dir, 'mismatch');
    const model = CausalLM.create({ arch: 'gpt2', ...shape }, { seed: 1 });
    await saveCheckpoint(path, { model, tokenizer });
    model.dispose();
    const bigger = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz']);
    const other = join(dir, 'other-tokenizer');
    mkdirSync(other);
    await bigger.save(other);
    copyFileSync(join(other, 'tokenizer.json'), join(path, 'tokenizer.json'));
    await expect(loadCheckpoint(path)).rejects.toThrow(
      `${join(path, 'tokenizer.json')}: tokenizer vocabSize ${bigger.vocabSize} is larger than the model config's vocabSize ${shape.vocabSize}`);
  });
});

describe('experiment files', () => {
  test('a file that throws on import: the file and the thrown message', () => {
    const path = file('throws.js', 'const x = require("./no-such-helper");\nmodule.exports = {};');
    expect(() => loadExperiment(path)).toThrow(new RegExp(`^${path}: invalid experiment config\\n  - the file threw while loading: Cannot find module './no-such-helper'`));
  });

  test('an unknown reward name: the field, and the known names', () => {
    const path = file('reward.js', experiment({ rewards: { weights: { coherense: 1 } } }));
    expect(() => loadExperiment(path)).toThrow(new RegExp(`^${path}: invalid experiment config\\n  - rewards.weights.coherense: unknown reward \\(known: .*coherence`));
  });

  test('a missing data path: the field and the path, before any work starts', () => {
    const missing = join(dir, 'nowhere', 'train.jsonl');
    const path = file('data.js', experiment({ data: { source: { kind: 'file', path: missing, mapping } } }));
    expect(() => loadExperiment(path)).toThrow(`${path}: invalid experiment config\n  - data.source.path: ${missing} does not exist`);
  });
});

/**
 * The command line's documented exit codes on bad input (2) and run state (3), each with one clear line naming
 * the file, line, field or argument; checked through `main()` as the `rrl` binary runs it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bin/cli';
import { initBackend } from '../../lib/backend';
import { MAX_RECORD_BYTES } from '../../lib/data/records';
import { setConsoleLevel } from '../../lib/log/logger';
import { CausalLM, loadCheckpoint, saveCheckpoint } from '../../lib/model';
import { writeTinyCheckpoint } from '../llm/support/tiny-checkpoint';

const dir = mkdtempSync(join(tmpdir(), 'rrl-exit-'));
const checkpoint = join(dir, 'tiny');
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const experiment = (name: string, patch: Record<string, unknown>) => file(`${name}.js`, `module.exports = { default: ${JSON.stringify({
  name, output: join(dir, 'runs'), data: { source: { kind: 'synthetic', task: 'last_letters', size: 20 } }, teacher: { kind: 'offline' },
  student: { arch: 'gpt2', dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 32 }, rewards: { weights: { coherence: 1 } }, ...patch,
})} };`);
const questions = file('questions.jsonl', `${JSON.stringify({ id: 'q/1', question: 'abc?', answers: ['cba'], answerType: 'text' })}\n{"foo": 1}\n`);

/** Run the CLI; returns its exit code and what it printed to stderr. */
async function rrl(...args: string[]): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  try {
    const code = await main(args);
    return { code, stderr: lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  setConsoleLevel('error');
  await initBackend('wasm');
  await writeTinyCheckpoint(checkpoint);
});

describe('exit 2: bad arguments', () => {
  test.each([['abc'], ['99999'], ['-1'], ['1.5']])('serve --port %s', async (port) => {
    const { code, stderr } = await rrl('serve', checkpoint, '--port', port);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--port: .* is not a port number \(0-65535\)/);
  });

  test('serve on a port in use', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { code, stderr } = await rrl('serve', checkpoint, '--port', String(port));
      expect([code, stderr]).toEqual([2, `error: port ${port} on 127.0.0.1 is already in use`]);
    } finally {
      taken.close();
    }
  });

  test('serve beyond loopback without an API key', async () => {
    const { code, stderr } = await rrl('serve', checkpoint, '--host', '0.0.0.0', '--port', '0');
    expect(code).toBe(2);
    expect(stderr).toMatch(/refusing to serve on 0\.0\.0\.0 .* without an API key/);
  });

  test('generate --limit -1, --questions with a bad record, --out an existing folder (no temp file left)', async () => {
    expect(await rrl('generate', checkpoint, '--questions', questions, '--limit', '-1')).toEqual({ code: 2, stderr: 'error: --limit: must be a positive integer, got -1' });
    expect(await rrl('generate', checkpoint, '--questions', questions)).toEqual({ code: 2, stderr: `error: ${questions}:2: field "id" must be a string` });
    const folder = join(dir, 'out-folder');
    mkdirSync(folder);
    expect(await rrl('generate', checkpoint, '--questions', questions, '--limit', '1', '--out', folder)).toEqual({ code: 2, stderr: `error: --out: "${folder}" is a folder; give a file path` });
    expect(readdirSync(folder)).toEqual([]);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  test('a checkpoint with non-finite weights is refused at load', async () => {
    const corrupt = join(dir, 'nan-model');
    const { model, tokenizer } = await loadCheckpoint(checkpoint);
    const arrays = await model.toArrays();
    for (const { data } of arrays.values()) data.fill(NaN);
    const broken = CausalLM.fromWeights.bind(CausalLM);
    expect(() => broken(model.config, arrays, corrupt)).toThrow(/holds a non-finite value \(NaN at index 0\); the checkpoint is corrupt/);
    // the same through a file on disk: save a good model, then overwrite its weights file with NaNs
    await saveCheckpoint(corrupt, { model, tokenizer });
    model.dispose();
    const weightsFile = readdirSync(corrupt).find((name) => name.endsWith('.safetensors'))!;
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(join(corrupt, weightsFile));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    for (let offset = 8 + headerLength; offset + 4 <= bytes.length; offset += 4) bytes.writeFloatLE(NaN, offset);
    writeFileSync(join(corrupt, weightsFile), bytes);
    const good = file('good-questions.jsonl', `${JSON.stringify({ id: 'q/1', question: 'abc?', answers: ['cba'], answerType: 'text' })}\n`);
    const { code, stderr } = await rrl('generate', corrupt, '--questions', good);
    expect(code).toBe(2);
    expect(stderr).toMatch(/non-finite value \(NaN/);
  });
});

describe('exit 2: bad experiment files', () => {
  test('a syntax error names file, line and column', async () => {
    const path = file('syntax.ts', 'export default {\n  name: "x",\n  data: { source: 1 +* },\n};\n');
    const { code, stderr } = await rrl('run', path);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`syntax error at ${path}:3:\\d+: \\S`));
  });

  test('a function-valued field', async () => {
    const path = file('function.js', 'module.exports = { default: { name: "f", seed: () => 1 } };');
    const { code, stderr } = await rrl('run', path);
    expect(code).toBe(2);
    expect(stderr).toContain('field "seed" is a function; an experiment config holds data only');
  });

  test('--set __proto__ / constructor / prototype is refused and pollutes nothing', async () => {
    const path = experiment('proto', {});
    for (const key of ['__proto__.output', 'constructor.prototype.output', 'student.prototype']) {
      const { code, stderr } = await rrl('run', path, '--set', `${key}=x`);
      expect(code).toBe(2);
      expect(stderr).toMatch(/cannot be set \(it is not a config field\)/);
    }
    expect(({} as Record<string, unknown>).output).toBeUndefined();
  });

  test.each<[{ dModel?: number; nHeads?: number; maxSeqLen?: number }, RegExp]>([
    [{ dModel: 10, nHeads: 4 }, /student\.nHeads.*nHeads 4 must divide dModel 10/],
    [{ maxSeqLen: 1 }, /maxSeqLen 1 leaves no room .* at least 2/],
    [{ maxSeqLen: 1e8 }, /maxSeqLen 100000000 is over 16384/],
  ])('student shape %j is refused before any work', async (shape, message) => {
    const path = experiment(`shape-${shape.dModel ?? shape.maxSeqLen}`, { student: { arch: 'gpt2', dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 32, ...shape } });
    const { code, stderr } = await rrl('run', path);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  test('an output path that is a file', async () => {
    const output = file('not-a-folder', 'x');
    const { code, stderr } = await rrl('run', experiment('output-file', { output }));
    expect(code).toBe(2);
    expect(stderr).toContain(`output: "${output}" is a file, not a folder`);
  });

  test('a bad line in the dataset file the config names', async () => {
    const data = file('broken.jsonl', '{"q": "What is 1 + 1?", "a": 2}\n{"q": "What is 2 + 2?", "a": 4\n');
    const { code, stderr } = await rrl('run', experiment('bad-data', { data: { source: { kind: 'file', path: data, mapping: { question: 'q', answer: 'a' } } } }), '--stage', 'data');
    expect(code).toBe(2);
    expect(stderr).toContain(`${data}:2: not valid JSON`);
  });

  test('a record over 1 MiB in the dataset or questions file: file, line and limit, nothing copied into the run', async () => {
    const big = 'x'.repeat(MAX_RECORD_BYTES);
    const data = file('big.jsonl', `{"q": "What is 1 + 1?", "a": 2}\n{"q": "${big}", "a": 4}\n`);
    const limit = `record is ${MAX_RECORD_BYTES + 17} bytes, over the limit of ${MAX_RECORD_BYTES} bytes per record (1 MiB)`;
    const run = await rrl('run', experiment('big-data', { data: { source: { kind: 'file', path: data, mapping: { question: 'q', answer: 'a' } } } }), '--stage', 'data');
    expect(run).toEqual({ code: 2, stderr: `error: ${data}:2: ${limit}; split or shorten it` });
    expect(existsSync(join(dir, 'runs', 'big-data', 'data', 'train.jsonl'))).toBe(false);
    const big2 = file('big-questions.jsonl', `${JSON.stringify({ id: 'q/1', question: big, answers: ['1'], answerType: 'text' })}\n`);
    const generate = await rrl('generate', checkpoint, '--questions', big2);
    expect(generate.code).toBe(2);
    expect(generate.stderr).toMatch(new RegExp(`^error: ${big2}:1: record is \\d+ bytes, over the limit of ${MAX_RECORD_BYTES} bytes per record`));
  });
});

test('exit 3: a run locked by a live process', async () => {
  const path = experiment('locked', {});
  const root = join(dir, 'runs', 'locked');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'run.lock'), String(process.ppid)); // a live process other than this one
  const { code, stderr } = await rrl('run', path, '--stage', 'data');
  expect(code).toBe(3);
  expect(stderr).toMatch(/is being run by another process \(pid \d+\)/);
});

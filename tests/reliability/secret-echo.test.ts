/**
 * An endpoint that quotes the API key back in its error body (OpenAI's 401 does: "Incorrect API key provided:
 * sk-..."), answering 400, 401 and 500: the key reaches neither stderr (the CLI's `error:` line), the manifest's
 * stage error, run.log, nor any other file of the run folder.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bin/cli';
import { setConsoleLevel } from '../../lib/log/logger';

const KEY_ENV = 'RRL_SECRET_ECHO_TEST_KEY';
const SECRET = 'sk-echo-Hq27vBn4SECRETxRt9Kd1';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

let status = 400;
let requests = 0;
let endpoint: Server;
let baseURL: string;
beforeAll(async () => {
  setConsoleLevel('error');
  endpoint = createServer((request, response) => {
    requests++;
    const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${request.headers.authorization?.replace(/^Bearer /, '')}`, type: 'invalid_request_error' } });
    request.resume();
    request.on('end', () => response.writeHead(status, { 'content-type': 'application/json' }).end(body));
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise((resolve) => endpoint.close(resolve)));

test.each([400, 401, 500])('an endpoint echoing the key in a %i body: the key is in no output', async (code) => {
  status = code;
  requests = 0;
  process.env[KEY_ENV] = SECRET;
  const output = mkdtempSync(join(tmpdir(), 'rrl-echo-run-'));
  const file = join(output, 'echo.js');
  writeFileSync(file, `module.exports = { default: ${JSON.stringify({
    name: 'echo', output, seed: 1,
    data: { source: { kind: 'synthetic', task: 'last_letters', size: 8, steps: 2 }, testFraction: 0.25 },
    teacher: { kind: 'llm', endpoint: { baseURL, model: 'gpt-x', apiKeyEnv: KEY_ENV, api: 'completions', maxConcurrency: 1, maxRetries: 1, timeoutSeconds: 5 }, strategy: 'zero-shot-cot', maxTokens: 8 },
    student: { arch: 'gpt2', dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 64, tokenizer: 'char' },
    rewards: { weights: { coherence: 1 } },
  })} };`);
  const stderr: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void stderr.push(args.join(' ')));
  let code_: number;
  try {
    code_ = await main(['run', file, '--stage', 'data', '--stage', 'teacher']);
  } finally {
    spy.mockRestore();
  }
  expect(code_).toBe(1);
  expect(requests).toBeGreaterThan(0);
  const printed = stderr.join('\n');
  expect(printed).toMatch(new RegExp(`error: .*HTTP ${code}.*Incorrect API key provided: \\*\\*\\*`));
  const manifest = JSON.parse(readFileSync(join(output, 'echo', 'manifest.json'), 'utf8')) as { stages: { teacher: { status: string; error: string } } };
  expect(manifest.stages.teacher.status).toBe('failed');
  expect(manifest.stages.teacher.error).toMatch(/Incorrect API key provided: \*\*\*/);
  const files = filesUnder(join(output, 'echo'));
  expect(files.map((f) => f.slice(output.length + 6))).toEqual(expect.arrayContaining(['manifest.json', 'run.log']));
  const leaks = [printed, ...files.map((f) => readFileSync(f, 'utf8'))].filter((text) => text.includes(SECRET) || text.includes(SECRET.slice(8)));
  expect(leaks).toEqual([]);
}, 60_000);

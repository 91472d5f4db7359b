import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../lib/llm/server';
import type { CompletionRequest, LLMClient } from '../../lib/llm/types';
import { Random } from '../../lib/random';
import { ArithmeticTeacher } from './support/arithmetic-teacher';
import { writeEntries } from './support/cache-writer';

const WRITER = join(__dirname, 'support', 'cache-writer.ts');
const COUNT = 60;

/** The arithmetic teacher, 15 ms slower per call, so a kill lands in the middle of the work. */
function slowTeacher(): LLMClient {
  const teacher = new ArithmeticTeacher();
  const wait = () => new Promise((r) => setTimeout(r, 15));
  return {
    model: teacher.model,
    complete: async (r: CompletionRequest) => (await wait(), teacher.complete(r)),
    chat: async (r) => (await wait(), teacher.chat(r)),
  };
}

/** Run the writer in a child process and kill it with SIGKILL `killAfterMs` after it says ready. */
function killWriter(url: string, cacheDir: string, killAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, url, cacheDir, String(COUNT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), killAfterMs));
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

/** Every complete cache entry parses; returns their count (temporary files of a killed write are not entries). */
function entries(cacheDir: string): number {
  let count = 0;
  for (const shard of readdirSync(cacheDir)) {
    for (const file of readdirSync(join(cacheDir, shard)).filter((f) => f.endsWith('.json'))) {
      const entry = JSON.parse(readFileSync(join(cacheDir, shard, file), 'utf8'));
      expect(entry.result.choices).toHaveLength(2);
      count++;
    }
  }
  return count;
}

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ client: slowTeacher() });
});
afterAll(() => server.close());

it('the cache survives SIGKILL at random points, and a rerun redoes no finished work', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'rrl-crash-'));
  const random = new Random(7);
  let cached = 0;
  let interrupted = 0;
  for (let round = 0; round < 5; round++) {
    await killWriter(server.url, cacheDir, random.int(200));
    const now = entries(cacheDir);
    expect(now).toBeGreaterThanOrEqual(cached);
    if (now < COUNT) interrupted++;
    cached = now;
  }
  expect(interrupted).toBeGreaterThan(0); // kills did land in the middle of the work
  const before = server.stats.requests;
  const usage = await writeEntries(server.url, cacheDir, COUNT);
  expect(usage.cacheHits).toBe(cached);
  expect(usage.requests).toBe(COUNT - cached);
  expect(server.stats.requests - before).toBe(COUNT - cached);
  expect(entries(cacheDir)).toBe(COUNT);
  const rerun = await writeEntries(server.url, cacheDir, COUNT);
  expect([rerun.requests, rerun.cacheHits]).toEqual([0, COUNT]);
}, 60_000);

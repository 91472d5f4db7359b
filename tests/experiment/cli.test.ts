import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bin/cli';

/** Runs the CLI in process and returns its exit code and what it printed to stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => { lines.push(parts.join(' ')); });
  try {
    return { code: await main(args), stderr: lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

test('a command missing its argument exits 2 with that command\'s usage and the problem', async () => {
  const { code, stderr } = await cli(['run']);
  expect(code).toBe(2);
  expect(stderr).toContain('rrl run <experiment>');
  expect(stderr).toContain('experiment file (.ts)');
  expect(stderr).toContain('Not enough non-option arguments: got 0, need at least 1');
});

test('a bad experiment file exits 2 naming the field, before any work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrl-cli-'));
  const file = join(dir, 'bad.js');
  writeFileSync(file, `module.exports = { default: { name: 'bad', output: ${JSON.stringify(dir)}, data: { source: { kind: 'synthetic', task: 'last_letters' } }, rl: { iterations: 'ten' } } };`);
  const { code, stderr } = await cli(['run', file]);
  expect(code).toBe(2);
  expect(stderr).toContain('rl.iterations: Invalid input: expected number, received string');
  expect(existsSync(join(dir, 'bad'))).toBe(false); // no run folder
});

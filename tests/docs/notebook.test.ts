/**
 * docs/notebook.ts, the README's notebook walk-through, runs as a user would run it (`npm run example:notebook`:
 * tsx, importing the package by name) and prints every step's result.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

test('docs/notebook.ts runs every stage by hand and exits 0', () => {
  const root = resolve(__dirname, '../..');
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'docs/notebook.ts'], {
    cwd: root, encoding: 'utf8', env: { ...process.env, RRL_PROGRESS: 'off' },
  });
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.status).toBe(0);
  for (const step of ['backend:', 'example:', 'teacher records:', 'distillation:', 'student predictions:', 'reward components:', 'PPO iteration:', 'judge answers:']) {
    expect(result.stdout).toContain(step);
  }
  expect(result.stdout).toMatch(/'mentions-coin': \[/); // the custom reward registered in the notebook is a component
});

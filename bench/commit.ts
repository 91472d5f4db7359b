import { execFileSync } from 'node:child_process';

/**
 * The commit a benchmark runs on, for its output: the short hash, with `+changes` when tracked files differ from it,
 * or `unknown` outside a git checkout.
 */
export function gitCommit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..', '..', '..');

/**
 * The crash writer bundled into one plain JS file (its packages stay external), so a child starts without the
 * TypeScript loader: under load that is the difference between ~1 s and ~4 s per kill.
 */
export function bundleCrashWriter(): string {
  const outfile = join(mkdtempSync(join(tmpdir(), 'rrl-writer-')), 'crash-writer.js');
  buildSync({
    entryPoints: [join(__dirname, 'crash-writer.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    packages: 'external', outfile, logLevel: 'error',
    supported: { 'dynamic-import': false }, // import() becomes require(), which honours NODE_PATH
  });
  return outfile;
}

/** How one child run ended. */
export interface ChildRun {
  killed: boolean;
  /** The JSON the writer printed when it finished before the kill. */
  finished?: Record<string, number>;
}

/**
 * Run a writer that waits for a line on stdin before each step and prints "step <n>" after it (manifest mode):
 * give it `killAtStep` go-aheads, then one more followed `killDelayMs` later by SIGKILL, so the kill lands before,
 * during or after that one step's write, however fast the machine (it cannot go further without the next go-ahead).
 * `Infinity` lets it finish.
 */
export function runAndKillAtStep(writer: string, args: string[], killAtStep: number, killDelayMs = 0): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
    });
    let out = '';
    let err = '';
    let acked = 0;
    const goAhead = () => {
      child.stdin.write('go\n');
      if (acked++ === killAtStep) setTimeout(() => child.kill('SIGKILL'), killDelayMs);
    };
    child.stdin.on('error', () => {}); // the child may be gone when the last go-ahead is written
    child.stdout.on('data', (chunk: Buffer) => {
      const before = out;
      out += chunk.toString();
      if (!before.includes('ready\n') && out.includes('ready\n')) goAhead();
      const steps = (chunk.toString().match(/^step \d+$/gm) ?? []).length;
      for (let i = 0; i < steps && acked <= killAtStep; i++) goAhead();
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = /finished (.*)\n/.exec(out);
      if (signal === 'SIGKILL') resolve({ killed: !line, finished: line ? JSON.parse(line[1]) : undefined });
      else if (code === 0 && line) resolve({ killed: false, finished: JSON.parse(line[1]) });
      else reject(new Error(`crash writer ${args.join(' ')} exited with ${code}: ${err.slice(-500)}`));
    });
  });
}

/**
 * Run a go-ahead writer (manifest mode with a stall step) and SIGKILL it once it prints "mid-write": it is then held
 * inside a file write with half the bytes written. Resolves whether the kill came mid-write.
 */
export function runAndKillMidWrite(writer: string, args: string[]): Promise<{ killedMidWrite: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
    });
    let out = '';
    let err = '';
    let midWrite = false;
    child.stdin.on('error', () => {});
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!midWrite && out.includes('mid-write\n')) {
        midWrite = true;
        child.kill('SIGKILL');
        return;
      }
      // one go-ahead after "ready" and after each step
      const lines = (chunk.toString().match(/^(ready|step \d+)$/gm) ?? []).length;
      for (let i = 0; i < lines; i++) child.stdin.write('go\n');
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killedMidWrite: midWrite });
      else reject(new Error(`crash writer ${args.join(' ')} exited with ${code} before stalling: ${err.slice(-500)}`));
    });
  });
}

/** Run `writer <args>` and SIGKILL it `killAfterMs` after it prints "ready" (it may finish first). */
export function runAndKill(writer: string, args: string[], killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!timer && out.includes('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = /finished (.*)\n/.exec(out);
      if (signal === 'SIGKILL') resolve({ killed: !line, finished: line ? JSON.parse(line[1]) : undefined });
      else if (code === 0 && line) resolve({ killed: false, finished: JSON.parse(line[1]) });
      else reject(new Error(`crash writer ${args.join(' ')} exited with ${code}: ${err.split('\n').filter((l) => l.includes('Error')).slice(0, 3).join(' | ') || err.slice(-500)}`));
    });
  });
}

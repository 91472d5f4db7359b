/**
 * The PyTorch peer of bench:model as a child process (bench/torch/peer_model.py on Debian's python3 with
 * python3-torch): one JSON request per line on its stdin, one JSON answer per line on its stdout. Requests are
 * answered one at a time and the caller awaits each, so the peer and this process never compute at once.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface, type Interface } from 'node:readline';

/** The peer's rates for one request: tokens per wall-clock second and per CPU-second of the peer process. */
export interface PeerRates { tokPerS: number; tokPerCpuS: number; tokens: number }

/** What the peer says when it starts. */
export interface PeerInfo { torch: string; torchThreads: number; blas: string }

export const PEER_SCRIPT = path.join(__dirname, 'peer_model.py');

/** Debian's python3 (the one with python3-torch) where it exists, else python3 on PATH. */
export function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export class TorchPeer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly reader: Interface,
    private readonly lines: AsyncIterableIterator<string>,
    readonly info: PeerInfo,
  ) {}

  /**
   * Starts the peer with `torchThreads` torch threads and `blasThreads` OpenBLAS threads. Resolves to the peer,
   * or to a string saying why it cannot run (no python3, no torch, ...) with the last line it wrote to stderr.
   * `script` is the peer program (default {@link PEER_SCRIPT}).
   */
  static async start(python: string, torchThreads: number, blasThreads: number, script = PEER_SCRIPT): Promise<TorchPeer | string> {
    const child = spawn(python, [script, '--torch-threads', String(torchThreads)], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: String(torchThreads) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
    const spawnError = new Promise<string>((resolve) => child.on('error', (err) => resolve(err.message)));
    const reader = createInterface({ input: child.stdout });
    const lines = reader[Symbol.asyncIterator]();
    const first = lines.next().then((r) => (r.done ? undefined : r.value));
    const line = await Promise.race([first, spawnError.then(() => undefined)]);
    if (line === undefined) {
      // Wait until its stderr is closed too (or it failed to spawn), so its last words are in.
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const why = await Promise.race([spawnError, closed.then(() => stderr.trim().split('\n').slice(-1)[0])]);
      child.kill();
      return `${python} ${script} did not start: ${why || 'no output'}`;
    }
    const hello = JSON.parse(line) as PeerInfo & { ready: boolean };
    return new TorchPeer(child, reader, lines, { torch: hello.torch, torchThreads: hello.torchThreads, blas: hello.blas });
  }

  /** Times `count` training steps or sampling runs of `config` on the peer (warming that pair up the first time). */
  async run(config: string, task: 'train' | 'sample', count: number): Promise<PeerRates> {
    const request = task === 'train' ? { config, task, steps: count } : { config, task, runs: count };
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`PyTorch peer exited during ${JSON.stringify(request)}`);
    const answer = JSON.parse(next.value) as PeerRates & { error?: string };
    if (answer.error) throw new Error(`PyTorch peer: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.reader.close();
    this.child.stdin.end();
    this.child.kill();
  }
}

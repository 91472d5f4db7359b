import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TorchPeer } from '../../bench/torch/peer';

// The client side of bench:model's PyTorch peer, against stand-in peers written in JS (npm test needs no Python).
describe('TorchPeer', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'torch-peer-'));
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    return file;
  };

  test('a missing interpreter is reported, not thrown', async () => {
    const started = await TorchPeer.start(path.join(dir, 'no-such-python'), 1, 1);
    expect(typeof started).toBe('string');
    expect(started).toMatch(/no-such-python .*peer_model\.py did not start: .*ENOENT/);
  });

  test('a peer that exits at start (no torch) is reported with its last stderr line', async () => {
    const noTorch = script('no-torch.js', "console.error('Traceback ...'); console.error(\"ModuleNotFoundError: No module named 'torch'\"); process.exit(1);");
    const started = await TorchPeer.start(process.execPath, 1, 1, noTorch);
    expect(started).toMatch(/did not start: ModuleNotFoundError: No module named 'torch'$/);
  });

  test('requests go out one per line with the thread settings, answers and errors come back in order', async () => {
    // Echoes the request, its thread arguments and OPENBLAS_NUM_THREADS; a request for config "X" is an error.
    const echo = script('echo.js', `
      const rl = require('readline').createInterface({ input: process.stdin });
      console.log(JSON.stringify({ ready: true, torch: 'fake', torchThreads: Number(process.argv[3]), blas: process.env.OPENBLAS_NUM_THREADS }));
      rl.on('line', (line) => {
        const r = JSON.parse(line);
        if (r.config === 'X') return console.log(JSON.stringify({ error: 'ValueError: unknown config "X"' }));
        const n = r.steps ?? r.runs;
        console.log(JSON.stringify({ tokens: n * 10, tokPerS: n * 100, tokPerCpuS: r.task === 'train' ? 1 : 2 }));
      });`);
    const peer = await TorchPeer.start(process.execPath, 3, 2, echo);
    if (typeof peer === 'string') throw new Error(peer);
    try {
      expect(peer.info).toEqual({ torch: 'fake', torchThreads: 3, blas: '2' });
      expect(await peer.run('S', 'train', 6)).toEqual({ tokens: 60, tokPerS: 600, tokPerCpuS: 1 });
      expect(await peer.run('S', 'sample', 3)).toEqual({ tokens: 30, tokPerS: 300, tokPerCpuS: 2 });
      await expect(peer.run('X', 'sample', 1)).rejects.toThrow('PyTorch peer: ValueError: unknown config "X"');
    } finally {
      peer.close();
    }
  });
});

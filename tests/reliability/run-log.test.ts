/** run.log is on disk as each line is logged: a run killed while compute holds the event loop keeps it. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger, registerSecret, setConsoleLevel, setLogFile } from '../../lib/log/logger';

test('each line is in the file when logger.info returns, redacted, without yielding to the event loop', () => {
  setConsoleLevel('error');
  const file = join(mkdtempSync(join(tmpdir(), 'rrl-runlog-')), 'nested', 'run.log');
  registerSecret('sk-runlog-secret-123456');
  setLogFile(file);
  try {
    logger.info('step 1 of 3', { stage: 'distill' });
    logger.warn('endpoint said: bad key sk-runlog-secret-123456');
    // no await between the calls and the read: nothing was left for a stream to flush later
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { level: string; message: string; stage?: string });
    expect(lines.map(({ level, message, stage }) => ({ level, message, stage }))).toEqual([
      { level: 'info', message: 'step 1 of 3', stage: 'distill' },
      { level: 'warn', message: 'endpoint said: bad key ***', stage: undefined },
    ]);
  } finally {
    setLogFile(undefined);
  }
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The benchmark end to end on a tiny slice of the real data: table, JSON last line, predictions file.
test('bench:distill --quick prints the table and one JSON object with the figures as its last line', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-distill-'));
  try {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'bench/distill.ts', '--quick', '--dataset', 'last_letters', '--out', out],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = stdout.trim().split('\n');
    expect(lines.some((line) => line.startsWith('| teacher GPT-3 175B'))).toBe(true);
    const figures = JSON.parse(lines[lines.length - 1]);
    expect(Object.keys(figures)).toEqual(['last_letters']);
    const ll = figures.last_letters;
    expect(ll.testQuestions).toBe(8);
    expect(ll.accuracy).toBeGreaterThanOrEqual(0);
    expect(ll.accuracy).toBeLessThanOrEqual(100);
    // The teacher's accuracy on the 8 test questions is a multiple of 12.5%.
    expect(ll.teacherAccuracy % 12.5).toBe(0);
    expect(ll.params).toBeGreaterThan(1000);
    expect(ll.augmentedRecords).toBe(ll.trainRecords);
    const predictions = readFileSync(join(out, 'last_letters', 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(predictions).toHaveLength(8);
    expect(predictions.filter((p) => p.correct).length / 8 * 100).toBeCloseTo(ll.accuracy, 1);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);

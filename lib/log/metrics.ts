import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readJsonl } from '../data/jsonl';
import { writeFileAtomic } from '../fs';

/** One metrics line: which stage and step it belongs to, plus named numbers. */
export interface MetricsRecord {
  stage: string;
  step: number;
  /** Unix time in milliseconds; filled in by the sink when absent. */
  time?: number;
  [name: string]: number | string | undefined;
}

/**
 * Appends metrics as JSON lines. Each record is one `appendFileSync` of one line, so a crash can at worst leave a
 * torn last line, which readers drop.
 */
export class MetricsSink {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(record: MetricsRecord): void {
    const line = JSON.stringify({ ...record, time: record.time ?? Date.now() }, (_key, value) =>
      typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);
    appendFileSync(this.path, line + '\n');
  }

  /**
   * Remove the lines of a stage (`rl`) and of its sub-streams (`rl-...`), e.g. before the stage runs again from
   * the start, so that old curves do not mix with new ones. Rewrites the file atomically; a torn last line goes.
   */
  dropStage(stage: string): void {
    if (!existsSync(this.path)) return;
    const kept = readFileSync(this.path, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const record = JSON.parse(line) as MetricsRecord;
        return record.stage !== stage && !record.stage.startsWith(`${stage}-`);
      } catch {
        return false;
      }
    });
    writeFileAtomic(this.path, kept.map((line) => `${line}\n`).join(''));
  }
}

/** Metric lines of a run; a step logged twice (work redone after a resume) keeps its last value. */
export function readMetrics(path: string): MetricsRecord[] {
  if (!existsSync(path)) return [];
  const byKey = new Map<string, MetricsRecord>();
  for (const record of readJsonl(path, { allowTornLastLine: true }) as MetricsRecord[]) byKey.set(`${record.stage}\u0000${record.step}`, record);
  return [...byKey.values()].sort((a, b) => (a.stage === b.stage ? a.step - b.step : a.stage.localeCompare(b.stage)));
}

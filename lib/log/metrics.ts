import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
}

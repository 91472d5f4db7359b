import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs';

/** One metrics line: which stage and step it belongs to, plus named numbers. */
export interface MetricsRecord {
  stage: string;
  step: number;
  /** Unix time in milliseconds; filled in by the sink when absent. */
  time?: number;
  [name: string]: number | string | undefined;
}

/** The lines of a metrics file that parse, torn or blank ones left out. */
function readRecords(path: string): { line: string; record: MetricsRecord }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').flatMap((line) => {
    if (!line.trim()) return [];
    try {
      return [{ line, record: JSON.parse(line) as MetricsRecord }];
    } catch {
      return [];
    }
  });
}

/**
 * Appends metrics as JSON lines. Each record is one `appendFileSync` of one line, so a crash can at worst leave a
 * torn last line, which readers drop. A resumed stage starts again from its last checkpoint, before steps an
 * earlier attempt already logged: the first record a sink writes for a stream drops that stream's lines from its
 * step on, so no step appears twice.
 */
export class MetricsSink {
  /** Streams (stage names) written by this sink, whose earlier lines have been reconciled. */
  private readonly started = new Set<string>();

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    // a line torn by a crash would otherwise run into the next record appended
    if (existsSync(path) && !readFileSync(path, 'utf8').endsWith('\n') && readFileSync(path).length > 0) {
      writeFileAtomic(path, readRecords(path).map(({ line }) => `${line}\n`).join(''));
    }
  }

  write(record: MetricsRecord): void {
    if (!this.started.has(record.stage)) {
      this.started.add(record.stage);
      const records = readRecords(this.path);
      const stale = (r: MetricsRecord) => r.stage === record.stage && r.step >= record.step;
      if (records.some(({ record: r }) => stale(r))) {
        writeFileAtomic(this.path, records.filter(({ record: r }) => !stale(r)).map(({ line }) => `${line}\n`).join(''));
      }
    }
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
    const kept = readRecords(this.path).filter(({ record }) => record.stage !== stage && !record.stage.startsWith(`${stage}-`));
    writeFileAtomic(this.path, kept.map(({ line }) => `${line}\n`).join(''));
  }
}

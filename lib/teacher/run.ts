import { existsSync, readFileSync } from 'node:fs';
import { appendJsonl, readJson, readJsonl, writeJsonAtomic, writeJsonl } from '../data/jsonl';
import type { Example, RationaleRecord } from '../data/types';
import { addUsage, emptyUsage, usageSince, type UsageReport } from '../llm/accounting';
import { LLMError } from '../llm/errors';
import { ConcurrencyLimiter } from '../llm/limiter';
import type { LLMClient } from '../llm/types';
import type { TeacherStrategy } from './strategies';

/** Progress of a generation run, after each example. */
export interface TeacherProgress {
  done: number;
  total: number;
  /** Examples already done by an earlier run. */
  skipped: number;
  records: number;
  failed: number;
}

/** A rationale-generation run over many examples. */
export interface TeacherRunOptions {
  client: LLMClient;
  strategy: TeacherStrategy;
  examples: readonly Example[];
  /**
   * RationaleRecords are appended here as each example finishes; `<outFile>.done` lists finished example ids and
   * `<outFile>.usage.json` the client's usage summed over every run on this file.
   */
  outFile: string;
  /** Examples worked on at once (default 8); the client's own limit also applies. */
  concurrency?: number;
  onProgress?: (progress: TeacherProgress) => void;
}

/** What a run did. */
export interface TeacherRunResult {
  /** Records written by this run. */
  written: number;
  /** Examples skipped because an earlier run finished them. */
  skipped: number;
  /** Examples that failed for good (transient errors exhausted their retries); a rerun tries them again. */
  failed: { exampleId: string; error: string }[];
  /**
   * The client's requests, cache hits, retries by cause, tokens and cost, when it keeps them (the call layer does),
   * summed over this run and every earlier run on the same `outFile` (resumes included).
   */
  usage?: UsageReport;
}

/** Ids of finished examples: one JSON string per line (so a line torn by a crash cannot pass for another id). */
function readDoneIds(path: string): Set<string> {
  return new Set(existsSync(path) ? readJsonl(path, { allowTornLastLine: true }) as string[] : []);
}

/** Usage of the earlier runs on a file, as {@link generateRationales} saved it (none when there were none). */
function readSavedUsage(path: string): UsageReport {
  if (!existsSync(path)) return emptyUsage();
  const saved = readJson(path) as Partial<UsageReport>;
  const counts = ['requests', 'cacheHits', 'failures', 'promptTokens', 'completionTokens', 'costUsd'] as const;
  const bad = counts.find((key) => typeof saved?.[key] !== 'number') ?? (typeof saved?.retries !== 'object' ? 'retries' : undefined);
  if (bad) throw new Error(`${path}: field ${bad} missing or not a number; delete the file to count from zero`);
  return saved as UsageReport;
}

/**
 * Records of examples not listed as done are left-overs of a run that stopped between writing an example's
 * records and marking it done; they are removed (atomic rewrite) so that the redo does not duplicate them.
 */
function dropUnfinished(outFile: string, done: Set<string>): void {
  if (!existsSync(outFile)) return;
  const records = readJsonl(outFile, { allowTornLastLine: true }) as RationaleRecord[];
  const kept = records.filter((r) => done.has(r.exampleId));
  if (kept.length !== records.length || !readFileSync(outFile, 'utf8').endsWith('\n')) writeJsonl(outFile, kept);
}

/**
 * Generate rationales for every example with one strategy, writing each example's records to `outFile` as soon as
 * they are ready. Resumable: examples finished by an earlier run are skipped, and a crash never leaves an example
 * half-written or written twice (its records are written first, then its id to `<outFile>.done`). An example whose
 * calls keep failing (rate limits, server errors, timeouts past their retries) is reported in `failed` and left for a
 * rerun; any other error (bad key or model name, an unreachable server) stops the run with that one error.
 */
export async function generateRationales(options: TeacherRunOptions): Promise<TeacherRunResult> {
  const { client, strategy, examples, outFile } = options;
  const donePath = `${outFile}.done`;
  const done = readDoneIds(donePath);
  dropUnfinished(outFile, done);
  const todo = examples.filter((e) => !done.has(e.id));
  const skipped = examples.length - todo.length;
  // The client may have been used before this run: only what it does from here on is added to the saved totals.
  const usagePath = `${outFile}.usage.json`;
  const earlier = readSavedUsage(usagePath);
  const meter = 'usage' in client ? client as { usage: UsageReport } : undefined;
  const start = meter?.usage;
  const usageSoFar = () => addUsage(earlier, usageSince(meter!.usage, start!));
  const saveUsage = () => { if (meter) writeJsonAtomic(usagePath, usageSoFar()); };
  const result: TeacherRunResult = { written: 0, skipped, failed: [] };
  let finished = 0;
  const progress = () => options.onProgress?.({
    done: skipped + result.failed.length + finished, total: examples.length, skipped,
    records: result.written, failed: result.failed.length,
  });
  let fatal: Error | undefined;
  const limiter = new ConcurrencyLimiter(options.concurrency ?? 8);
  await Promise.all(todo.map((example) => limiter.run(async () => {
    if (fatal) return;
    try {
      const records = await strategy.run(client, example);
      if (records.length) appendJsonl(outFile, records);
      appendJsonl(donePath, [example.id]);
      result.written += records.length;
      finished++;
      saveUsage();
    } catch (error) {
      // Only transient failures that outlived their retries are left for a rerun; a bad request or key, a server
      // that cannot be reached, or a fault in the code would fail every example the same way.
      if (!(error instanceof LLMError) || !error.retryable || error.kind === 'connection') {
        fatal ??= error as Error;
        return;
      }
      result.failed.push({ exampleId: example.id, error: (error as Error).message });
      saveUsage();
    }
    progress();
  })));
  saveUsage(); // the requests of a run stopped by an error count too
  if (fatal) throw fatal;
  if (meter) result.usage = usageSoFar();
  return result;
}

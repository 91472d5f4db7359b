import { existsSync, readFileSync } from 'node:fs';
import { appendJsonl, readJsonl, writeJsonl } from '../data/jsonl';
import type { Example, RationaleRecord } from '../data/types';
import type { UsageReport } from '../llm/accounting';
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
  /** RationaleRecords are appended here as each example finishes; `<outFile>.done` lists finished example ids. */
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
  /** The client's requests, cache hits, retries by cause, tokens and cost, when it keeps them (the call layer does). */
  usage?: UsageReport;
}

/** Ids of finished examples: one JSON string per line (so a line torn by a crash cannot pass for another id). */
function readDoneIds(path: string): Set<string> {
  return new Set(existsSync(path) ? readJsonl(path, { allowTornLastLine: true }) as string[] : []);
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
    } catch (error) {
      // Only transient failures that outlived their retries are left for a rerun; a bad request or key, a server
      // that cannot be reached, or a fault in the code would fail every example the same way.
      if (!(error instanceof LLMError) || !error.retryable || error.kind === 'connection') {
        fatal ??= error as Error;
        return;
      }
      result.failed.push({ exampleId: example.id, error: (error as Error).message });
    }
    progress();
  })));
  if (fatal) throw fatal;
  if ('usage' in client) result.usage = (client as { usage: UsageReport }).usage;
  return result;
}

import { dataFileExists } from '../../data/files';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { importRecordedRationales, readRationales, writeRationales } from '../../data/rationales';
import { logger } from '../../log/logger';
import type { Example, RationaleRecord } from '../../data/types';
import { startProgress } from '../../log/progress';
import { loadCoTDemos } from '../../teacher/demos';
import { offlineTeacher } from '../../teacher/offline';
import { generateRationales } from '../../teacher/run';
import { strategyByName, type TeacherStrategy } from '../../teacher/strategies';
import type { StageContext, StageResult } from '../runner';
import type { ExperimentConfig } from '../schema';
import { loadSourceExamples } from '../../data/experiment-data';
import { readSplit } from './data';
import { endpointClient } from './endpoint';

type LLMTeacher = Extract<ExperimentConfig['teacher'], { kind: 'llm' }>;

/** The generation strategy an `llm` teacher config names, with its demonstrations file loaded when given. */
function strategyFor(teacher: LLMTeacher, seed: number): TeacherStrategy {
  if (teacher.strategy === 'few-shot-cot' && !teacher.demos) throw new Error('teacher.demos: few-shot-cot needs a demonstrations file');
  if (teacher.demos && !dataFileExists(teacher.demos)) throw new Error(`teacher.demos: ${teacher.demos} does not exist`);
  return strategyByName(teacher.strategy, {
    api: teacher.endpoint.api === 'chat' ? 'chat' : 'completion',
    maxTokens: teacher.maxTokens, temperature: teacher.temperature, samples: teacher.samplesPerQuestion, seed,
    demos: teacher.demos ? loadCoTDemos(teacher.demos) : undefined,
  });
}

/** Rationales for `examples` from the configured teacher, written to `file` (resumable for an LLM teacher). */
async function writeTeacherRationales(context: StageContext, examples: Example[], file: string): Promise<Record<string, number>> {
  const { config, run } = context;
  const teacher = config.teacher;
  if (teacher.kind === 'offline') {
    writeRationales(file, offlineTeacher(examples, { ...teacher, seed: config.seed + 1 }));
    return {};
  }
  if (teacher.kind === 'recorded') {
    if (!dataFileExists(teacher.path)) throw new Error(`teacher.path: ${teacher.path} does not exist`);
    // Match against the whole source (the file holds every question), then keep this run's questions.
    // Records that match no question, or several different ones, are listed in teacher/unmatched.jsonl.
    const wanted = new Set(examples.map((e) => e.id));
    const unmatchedPath = join(dirname(file), 'unmatched.jsonl');
    const { records: all, report } = importRecordedRationales(teacher.path, { format: teacher.format, examples: loadSourceExamples(config), unmatchedPath });
    const records = all.filter((r) => wanted.has(r.exampleId));
    if (records.length === 0) {
      const first = report.problems[0];
      throw new Error(`teacher.path: ${teacher.path} has no rationale for this experiment's questions${first ? ` (first unmatched: ${first.where}: ${first.reason})` : ''}`);
    }
    if (report.problems.length) logger.warn(`teacher.path: ${report.unmatched} records unmatched and ${report.ambiguous} ambiguous of ${report.total}, listed in ${unmatchedPath}`);
    writeRationales(file, records);
    return { recordedMatched: report.matched, recordedUnmatched: report.unmatched, recordedAmbiguous: report.ambiguous, recordedReordered: report.reordered };
  }
  const client = endpointClient(teacher.endpoint, run.path('llm-cache'), 'teacher.endpoint');
  const progress = startProgress('teacher', examples.length, { unit: 'question' });
  const result = await generateRationales({
    client, strategy: strategyFor(teacher, config.seed), examples, outFile: file,
    concurrency: teacher.endpoint.maxConcurrency,
    onProgress: (p) => progress.update(p.done, { records: p.records, failed: p.failed }),
  });
  progress.stop();
  if (result.failed.length > 0) {
    throw new Error(`teacher: ${result.failed.length} questions failed (first: ${result.failed[0].exampleId}: `
      + `${result.failed[0].error}); run again with --resume to retry them`);
  }
  const usage = result.usage;
  if (!usage) return {};
  const retries = Object.entries(usage.retries);
  return {
    // Summed over every attempt of this stage (teacher/rationales.jsonl.usage.json), not only the last resume.
    requests: usage.requests, cacheHits: usage.cacheHits, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens,
    ...(usage.costUsd > 0 ? { costUsd: usage.costUsd } : {}),
    retries: retries.reduce((sum, [, n]) => sum + (n ?? 0), 0), ...Object.fromEntries(retries.map(([cause, n]) => [`retries/${cause}`, n ?? 0])),
  };
}

const share = (records: RationaleRecord[]) => (records.length ? records.filter((r) => r.correct).length / records.length : 0);

/**
 * The teacher stage: rationales for every train and test question (the test ones are the `teacher` condition of the
 * evaluation), in `teacher/rationales.jsonl`, with the teacher's accuracy on each split.
 */
export async function teacherStage(context: StageContext): Promise<StageResult> {
  const { train, test } = readSplit(context);
  const file = `${context.dir}/rationales.jsonl`;
  // A stage run from the start (--restart, a changed config) discards the earlier records, done list and usage;
  // only a resumed one continues them.
  if (!context.resume) for (const old of [file, `${file}.done`, `${file}.usage.json`]) rmSync(old, { force: true });
  const usage = await writeTeacherRationales(context, [...train, ...test], file);
  const records = readRationales(file);
  const testIds = new Set(test.map((e) => e.id));
  return {
    outputs: { rationales: 'teacher/rationales.jsonl' },
    summary: {
      records: records.length,
      trainAccuracy: share(records.filter((r) => !testIds.has(r.exampleId))),
      testAccuracy: share(records.filter((r) => testIds.has(r.exampleId))),
      ...usage,
    },
  };
}

import { existsSync } from 'node:fs';
import { readJson, readJsonl } from '../../data/jsonl';
import { writeFileAtomic } from '../../fs';
import { renderHtmlReport, renderMarkdownReport, type ReportData, type Series } from '../../eval/report';
import type { MetricsRecord } from '../../log/metrics';
import type { RunFolder } from '../run-folder';
import type { StageContext, StageResult } from '../runner';
import type { EvalResults } from './eval';

/** Metric lines of a run; a step logged twice (work redone after a resume) keeps its last value. */
export function readMetrics(path: string): MetricsRecord[] {
  if (!existsSync(path)) return [];
  const byKey = new Map<string, MetricsRecord>();
  for (const record of readJsonl(path, { allowTornLastLine: true }) as MetricsRecord[]) byKey.set(`${record.stage}\u0000${record.step}`, record);
  return [...byKey.values()].sort((a, b) => (a.stage === b.stage ? a.step - b.step : a.stage.localeCompare(b.stage)));
}

/** `reward/answer-correctness/mean` -> `answer-correctness`. */
const seriesName = (field: string) => field.replace(/^reward\//, '').replace(/\/mean$/, '');

function series(records: MetricsRecord[], stage: string, fields: string[], x: (r: MetricsRecord) => number = (r) => r.step): Series[] {
  const rows = records.filter((r) => r.stage === stage);
  return fields
    .map((field) => ({ name: seriesName(field), points: rows.filter((r) => typeof r[field] === 'number').map((r) => ({ x: x(r), y: r[field] as number })) }))
    .filter((s) => s.points.length > 0);
}

/** Everything the report shows, gathered from a run folder. */
export function collectReport(run: RunFolder): ReportData {
  const manifest = run.manifest();
  const metrics = readMetrics(run.path('metrics.jsonl'));
  const evalFile = manifest.stages.eval?.outputs.results;
  const results = evalFile ? readJson(run.path(evalFile)) as EvalResults : { questionIds: [], conditions: [], comparisons: [], samples: [] };
  const rlRows = metrics.filter((r) => r.stage === 'rl');
  const rewardFields = [...new Set(rlRows.flatMap((r) => Object.keys(r).filter((k) => k.startsWith('reward/') && k.endsWith('/mean'))))];
  const facts: Record<string, string | number> = { experiment: manifest.experiment, seed: manifest.config.seed, folder: run.root };
  for (const [stage, record] of Object.entries(manifest.stages)) {
    for (const [key, value] of Object.entries(record.summary)) {
      facts[`${stage}.${key}`] = typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(4)) : value;
    }
  }
  return {
    title: `rationale-rl — ${manifest.experiment}`,
    subtitle: manifest.config.description,
    conditions: results.conditions,
    comparisons: results.comparisons ?? [],
    samples: results.samples,
    facts,
    plots: [
      { title: 'RL: reward components (mean per iteration)', xLabel: 'iteration', series: series(metrics, 'rl', ['reward/total/mean', ...rewardFields.filter((f) => f !== 'reward/total/mean')]) },
      { title: 'RL: KL to the reference, entropy', xLabel: 'iteration', series: series(metrics, 'rl', ['kl', 'entropy']) },
      { title: 'RL: judge accuracy on rollouts', xLabel: 'iteration', series: series(metrics, 'rl', ['judgeAccuracy']) },
      { title: 'Distillation: test accuracy', xLabel: 'epoch', series: series(metrics, 'distill-eval', ['testAccuracy'], (r) => r.epoch as number) },
      { title: 'Distillation: training loss', xLabel: 'step', series: series(metrics, 'distill', ['loss']) },
    ],
  };
}

/** The report stage: `report/report.html` (self-contained) and `report/report.md`. */
export async function reportStage({ run, dir }: StageContext): Promise<StageResult> {
  const data = collectReport(run);
  writeFileAtomic(`${dir}/report.html`, renderHtmlReport(data));
  writeFileAtomic(`${dir}/report.md`, renderMarkdownReport(data));
  return { outputs: { html: 'report/report.html', markdown: 'report/report.md' }, summary: { conditions: data.conditions.length } };
}

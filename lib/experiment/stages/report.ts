import { readJson } from '../../data/jsonl';
import { writeFileAtomic } from '../../fs';
import { renderHtmlReport, renderMarkdownReport, type ReportData, type Series } from '../../eval/report';
import { readMetrics, type MetricsRecord } from '../../log/metrics';
import type { RunFolder } from '../run-folder';
import type { StageContext, StageResult } from '../runner';
import type { EvalResults } from './eval';

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

/** Write (again) a run's report: `report/report.html` (self-contained) and `report/report.md`; returns what it showed. */
export function writeReport(run: RunFolder): ReportData {
  const data = collectReport(run);
  writeFileAtomic(run.path('report', 'report.html'), renderHtmlReport(data));
  writeFileAtomic(run.path('report', 'report.md'), renderMarkdownReport(data));
  return data;
}

/** The report stage: {@link writeReport}. */
export async function reportStage({ run }: StageContext): Promise<StageResult> {
  const data = writeReport(run);
  return { outputs: { html: 'report/report.html', markdown: 'report/report.md' }, summary: { conditions: data.conditions.length } };
}

import type { PairedComparison } from './stats';

/** Accuracy and rewards of one evaluation condition (e.g. the judge reading the RL student's rationales). */
export interface ConditionResult {
  /** `no-rationale`, `teacher`, `distilled`, `rl`, ... */
  condition: string;
  /** Judge accuracy on the held-out split, 0-1. */
  accuracy: number;
  n: number;
  /** Mean of each reward component and of the composite (`total`) over the condition's rationales. */
  rewards?: Record<string, number>;
  /** Mean rationale length in characters. */
  meanLength?: number;
  /** Share of rationales that repeat a sentence or a 4-gram. */
  repetitionRate?: number;
  /** Whether the judge answered each held-out question right, in the split's order (paired statistics). */
  correct?: boolean[];
}

/** One held-out question with what each condition wrote and answered. */
export interface SampleRow {
  exampleId: string;
  question: string;
  gold: string;
  byCondition: Record<string, { rationale: string; answer: string; correct: boolean }>;
}

/** A series to plot: y values over steps (iterations, epochs). */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

/** Everything a report shows. */
export interface ReportData {
  title: string;
  subtitle?: string;
  conditions: ConditionResult[];
  /** Every pair of conditions on the same held-out questions (difference, paired bootstrap 95% interval, McNemar p). */
  comparisons: PairedComparison[];
  /** Plots, each with one or more series sharing axes (e.g. reward components over RL iterations). */
  plots: { title: string; xLabel: string; series: Series[] }[];
  samples: SampleRow[];
  /** Key facts of the run (config values, timings). */
  facts: Record<string, string | number>;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 1000 || Number.isInteger(value) ? String(Math.round(value * 100) / 100) : value.toFixed(3);
}

/**
 * Centred moving average over `window` points (odd; the window shrinks at the ends so every point keeps its x):
 * y'_i = mean(y_j : |j − i| <= (window − 1) / 2). Non-finite values are left out of each mean.
 */
export function movingAverage(points: readonly { x: number; y: number }[], window: number): { x: number; y: number }[] {
  const half = Math.floor(Math.max(1, window) / 2);
  return points.map((p, i) => {
    const around = points.slice(Math.max(0, i - half), i + half + 1).map((q) => q.y).filter(Number.isFinite);
    return { x: p.x, y: around.length ? around.reduce((a, b) => a + b, 0) / around.length : Number.NaN };
  });
}

/** The smoothing window of a series of `count` points: about a tenth of them, odd, at least 1. */
export function smoothingWindow(count: number): number {
  const window = Math.max(1, Math.round(count / 10));
  return window % 2 === 1 ? window : window + 1;
}

/** Tick positions for [lo, hi]: about five at a 1/2/5 × 10^k step; whole numbers only when `integer` (iterations, epochs). */
export function axisTicks(lo: number, hi: number, integer: boolean, target = 5): number[] {
  const raw = (hi - lo) / Math.max(1, target - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/**
 * An inline SVG line plot with axes, ticks and a legend: no scripts, no external files. Each series is drawn as its
 * raw points (thin, faded) under a centred moving average ({@link movingAverage}) when it has more than 5 points.
 */
export function linePlotSvg(title: string, xLabel: string, series: Series[], width = 560, height = 300): string {
  const margin = { left: 56, right: 16, top: 28, bottom: 44 };
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  if (all.length === 0) return `<p class="empty">${escapeHtml(title)}: no data</p>`;
  let [xMin, xMax] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  let [yMin, yMax] = [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMin === yMax) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number) => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => margin.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;
  const integerX = all.every((p) => Number.isInteger(p.x));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">`,
    `<text x="${width / 2}" y="16" text-anchor="middle" class="plot-title">${escapeHtml(title)}</text>`,
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (const y of axisTicks(yMin, yMax, false)) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`,
      `<text x="${margin.left - 6}" y="${sy(y) + 4}" text-anchor="end" class="tick">${formatNumber(y)}</text>`);
  }
  for (const x of axisTicks(xMin, xMax, integerX)) {
    parts.push(`<text x="${sx(x)}" y="${margin.top + plotH + 16}" text-anchor="middle" class="tick">${formatNumber(x)}</text>`);
  }
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle" class="tick">${escapeHtml(xLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.points.filter((p) => Number.isFinite(p.y));
    if (points.length === 0) return;
    const line = (ps: { x: number; y: number }[]) => ps.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    if (points.length > 5) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-opacity="0.3" stroke-width="1" class="raw" points="${line(points)}"/>`,
        `<polyline fill="none" stroke="${color}" stroke-width="2" class="smoothed" points="${line(movingAverage(points, smoothingWindow(points.length)).filter((p) => Number.isFinite(p.y)))}"/>`);
    } else {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${line(points)}"/>`);
    }
    if (points.length === 1) parts.push(`<circle cx="${sx(points[0].x)}" cy="${sy(points[0].y)}" r="3" fill="${color}"/>`);
    parts.push(`<rect x="${margin.left + 8}" y="${margin.top + 6 + i * 16}" width="10" height="10" fill="${color}"/>`,
      `<text x="${margin.left + 22}" y="${margin.top + 15 + i * 16}" class="legend">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function conditionTable(conditions: ConditionResult[]): string {
  const rewardNames = [...new Set(conditions.flatMap((c) => Object.keys(c.rewards ?? {})))];
  const head = ['condition', 'judge accuracy', 'n', ...rewardNames.map((r) => `reward: ${r}`), 'mean length', 'repetition rate'];
  const rows = conditions.map((c) => [
    c.condition, `${(c.accuracy * 100).toFixed(1)}%`, String(c.n),
    ...rewardNames.map((r) => (c.rewards?.[r] === undefined ? '—' : formatNumber(c.rewards[r]))),
    c.meanLength === undefined ? '—' : c.meanLength.toFixed(0),
    c.repetitionRate === undefined ? '—' : `${(c.repetitionRate * 100).toFixed(1)}%`,
  ]);
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

const signed = (x: number, digits = 1) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;

/** The rows of the statistics table: each pair of conditions, B − A. */
function comparisonRows(comparisons: PairedComparison[]): string[][] {
  return comparisons.map((c) => [
    `${c.b} − ${c.a}`, String(c.n), `${signed(c.diff)} points`, `[${signed(c.ci95[0])}, ${signed(c.ci95[1])}]`,
    `${c.onlyB} / ${c.onlyA}`, c.pValue < 0.001 ? c.pValue.toExponential(1) : c.pValue.toFixed(3),
  ]);
}

const COMPARISON_HEAD = ['comparison (B − A)', 'questions', 'accuracy difference', 'paired bootstrap 95% interval', 'only B right / only A right', 'McNemar exact p'];

function comparisonTable(comparisons: PairedComparison[]): string {
  if (comparisons.length === 0) return '<p class="empty">fewer than two conditions: nothing to compare</p>';
  return `<table><thead><tr>${COMPARISON_HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
    + comparisonRows(comparisons).map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function samplesTable(samples: SampleRow[]): string {
  if (samples.length === 0) return '<p class="empty">no samples</p>';
  const conditions = [...new Set(samples.flatMap((s) => Object.keys(s.byCondition)))];
  const head = ['question', 'gold', ...conditions];
  const rows = samples.map((s) => `<tr><td class="q">${escapeHtml(s.question)}</td><td>${escapeHtml(s.gold)}</td>`
    + conditions.map((c) => {
      const cell = s.byCondition[c];
      if (!cell) return '<td>—</td>';
      return `<td class="${cell.correct ? 'ok' : 'bad'}">${escapeHtml(cell.rationale)}<div class="answer">→ ${escapeHtml(cell.answer)} ${cell.correct ? '✓' : '✗'}</div></td>`;
    }).join('') + '</tr>');
  return `<table class="samples"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.samples td{max-width:320px;font-size:13px}.q{max-width:260px}.ok{background:#eef8ee}.bad{background:#fbeeee}
.answer{margin-top:4px;font-weight:600}.plots{display:flex;flex-wrap:wrap;gap:12px}.plot-title{font-weight:600;font-size:13px}
.tick,.legend{font-size:11px}.empty{color:#888}dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#555}`;

/** A self-contained HTML page: opens in any browser from the file system, no server and no network. */
export function renderHtmlReport(data: ReportData): string {
  const facts = Object.entries(data.facts).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(String(v))}</dd>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>
${data.subtitle ? `<p>${escapeHtml(data.subtitle)}</p>` : ''}
<h2>Accuracy and rewards by condition (held-out split)</h2>
${conditionTable(data.conditions)}
<h2>Is the difference chance? Paired statistics on the same questions</h2>
<p>Accuracy difference in percentage points; 95% interval from 10,000 paired bootstrap resamples of the questions;
exact McNemar test (two-sided binomial on the questions only one condition got right).</p>
${comparisonTable(data.comparisons)}
<h2>Training curves</h2>
<p>Thin faded lines: the raw value per step; thick lines: a centred moving average over about a tenth of the steps.</p>
<div class="plots">${data.plots.map((p) => linePlotSvg(p.title, p.xLabel, p.series)).join('\n')}</div>
<h2>Rationales before and after RL</h2>
${samplesTable(data.samples)}
<h2>Run</h2>
<dl>${facts}</dl>
</body></html>
`;
}

/** The same report as Markdown (tables and samples; plots are summarised by their first and last values). */
export function renderMarkdownReport(data: ReportData): string {
  const rewardNames = [...new Set(data.conditions.flatMap((c) => Object.keys(c.rewards ?? {})))];
  const lines = [`# ${data.title}`, '', data.subtitle ?? '', '', '## Accuracy and rewards by condition', '',
    `| condition | judge accuracy | n | ${rewardNames.map((r) => `reward: ${r}`).join(' | ')}${rewardNames.length ? ' |' : ''} mean length |`,
    `|---|---|---|${rewardNames.map(() => '---|').join('')}---|`];
  for (const c of data.conditions) {
    lines.push(`| ${c.condition} | ${(c.accuracy * 100).toFixed(1)}% | ${c.n} | ${rewardNames.map((r) => (c.rewards?.[r] === undefined ? '—' : formatNumber(c.rewards[r]))).join(' | ')}${rewardNames.length ? ' |' : ''} ${c.meanLength?.toFixed(0) ?? '—'} |`);
  }
  lines.push('', '## Paired statistics (same questions)', '');
  if (data.comparisons.length === 0) lines.push('fewer than two conditions: nothing to compare');
  else {
    lines.push(`| ${COMPARISON_HEAD.join(' | ')} |`, `|${COMPARISON_HEAD.map(() => '---|').join('')}`);
    for (const row of comparisonRows(data.comparisons)) lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('', '## Training curves', '');
  for (const plot of data.plots) {
    for (const s of plot.series) {
      if (s.points.length === 0) continue;
      const first = s.points[0];
      const last = s.points[s.points.length - 1];
      lines.push(`- ${plot.title} — ${s.name}: ${formatNumber(first.y)} at ${plot.xLabel} ${first.x} → ${formatNumber(last.y)} at ${last.x}`);
    }
  }
  lines.push('', '## Sample rationales', '');
  for (const s of data.samples) {
    lines.push(`**Q:** ${s.question.replace(/\n/g, ' ')}  `, `**gold:** ${s.gold}`, '');
    for (const [condition, cell] of Object.entries(s.byCondition)) {
      lines.push(`- *${condition}* (${cell.correct ? 'right' : 'wrong'}, answered "${cell.answer}"): ${cell.rationale.replace(/\n/g, ' ')}`);
    }
    lines.push('');
  }
  lines.push('## Run', '', ...Object.entries(data.facts).map(([k, v]) => `- ${k}: ${v}`), '');
  return lines.join('\n');
}

import { axisTicks, linePlotSvg, movingAverage, renderHtmlReport, renderMarkdownReport, smoothingWindow, type ReportData } from '../../lib/eval/report';

const data: ReportData = {
  title: 'Run <default>',
  conditions: [
    { condition: 'distilled', accuracy: 0.5, n: 10, rewards: { total: 0.25, coherence: 0.9 }, meanLength: 80.4, repetitionRate: 0.1 },
    { condition: 'rl', accuracy: 0.75, n: 10, rewards: { total: 0.5 }, meanLength: 70 },
  ],
  comparisons: [{ a: 'distilled', b: 'rl', n: 10, diff: 25, ci95: [-10, 60], onlyA: 1, onlyB: 3, pValue: 0.625 }],
  plots: [{ title: 'reward', xLabel: 'iteration', series: [{ name: 'total', points: [{ x: 0, y: 0 }, { x: 10, y: 1 }] }] }],
  samples: [{ exampleId: 'a', question: 'Q & <b>', gold: 'nk', byCondition: { rl: { rationale: 'r', answer: 'nk', correct: true } } }],
  facts: { seed: 0 },
};

describe('report', () => {
  test('HTML is self-contained, escapes text, and shows every condition', () => {
    const html = renderHtmlReport(data);
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html).toContain('Run &lt;default&gt;');
    expect(html).toContain('Q &amp; &lt;b&gt;');
    expect(html).toContain('<td>50.0%</td>');
    expect(html).toContain('<td>75.0%</td>');
    expect(html).toContain('<td>—</td>'); // rl has no coherence component
    expect(html).toContain('<td>10.0%</td>');
  });

  test('plot maps data to pixel coordinates: first point bottom-left, last top-right', () => {
    const svg = linePlotSvg('t', 'x', [{ name: 's', points: [{ x: 0, y: 0 }, { x: 10, y: 1 }] }], 560, 300);
    // Plot area: left 56, right 560-16=544, top 28, bottom 300-44=256.
    expect(svg).toContain('points="56.0,256.0 544.0,28.0"');
  });

  test('Markdown lists the conditions and the curve end points', () => {
    const md = renderMarkdownReport(data);
    expect(md).toContain('| rl | 75.0% | 10 | 0.500 | — | 70 |');
    expect(md).toContain('- reward — total: 0 at iteration 0 → 1 at 10');
  });

  test('the statistics table shows each pair with its interval, discordant counts and p-value', () => {
    const row = '| rl − distilled | 10 | +25.0 points | [−10.0, +60.0] | 3 / 1 | 0.625 |';
    expect(renderMarkdownReport(data)).toContain(row);
    expect(renderHtmlReport(data)).toContain('<td>rl − distilled</td><td>10</td><td>+25.0 points</td><td>[−10.0, +60.0]</td><td>3 / 1</td><td>0.625</td>');
    expect(renderHtmlReport({ ...data, comparisons: [] })).toContain('nothing to compare');
  });

  test('moving average: centred, shrinking at the ends (hand-computed)', () => {
    const points = [1, 2, 3, 10, 5].map((y, x) => ({ x, y }));
    expect(movingAverage(points, 3).map((p) => p.y)).toEqual([1.5, 2, 5, 6, 7.5]);
    expect(movingAverage(points, 1)).toEqual(points);
    expect(movingAverage([{ x: 0, y: Number.NaN }, { x: 1, y: 4 }], 3).map((p) => p.y)).toEqual([4, 4]);
    expect([smoothingWindow(5), smoothingWindow(30), smoothingWindow(60)]).toEqual([1, 3, 7]);
  });

  test('ticks: whole numbers on an iteration axis, 1/2/5 steps', () => {
    expect(axisTicks(1, 60, true)).toEqual([20, 40, 60]);
    expect(axisTicks(0, 3, true)).toEqual([0, 1, 2, 3]);
    expect(axisTicks(1, 2, true)).toEqual([1, 2]);
    expect(axisTicks(0, 1, false)).toEqual([0, 0.5, 1]);
    const points = Array.from({ length: 60 }, (_, i) => ({ x: i + 1, y: Math.sin(i) }));
    const svg = linePlotSvg('reward', 'iteration', [{ name: 'total', points }]);
    const xLabels = [...svg.matchAll(/y="272" text-anchor="middle" class="tick">([^<]+)</g)].map((m) => m[1]);
    expect(xLabels).toEqual(['20', '40', '60']);
    expect(svg).toContain('class="raw"');
    expect(svg).toContain('class="smoothed"');
  });
});

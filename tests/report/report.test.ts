import { linePlotSvg, renderHtmlReport, renderMarkdownReport, type ReportData } from '../../lib/eval/report';

const data: ReportData = {
  title: 'Run <default>',
  conditions: [
    { condition: 'distilled', accuracy: 0.5, n: 10, rewards: { total: 0.25, coherence: 0.9 }, meanLength: 80.4, repetitionRate: 0.1 },
    { condition: 'rl', accuracy: 0.75, n: 10, rewards: { total: 0.5 }, meanLength: 70 },
  ],
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
});

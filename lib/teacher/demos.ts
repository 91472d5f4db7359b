import { readUtf8File } from '../data/jsonl';
import type { Paragraph } from '../data/types';
import { formatParagraphs } from './prompts';

/** One worked example for few-shot CoT: paragraphs (optional), question, and a rationale ending in the answer. */
export interface CoTDemo {
  id?: string;
  context: Paragraph[];
  question: string;
  /** The full answer text, e.g. "... So the answer is: Walls and Bridges." */
  rationale: string;
}

/**
 * Parse few-shot CoT demonstrations in the IRCoT prompt format: blocks started by `# METADATA: {"qid": ...}`,
 * each with `Wikipedia Title: <title>` paragraphs, then `Q: <question>` and `A: <rationale>` lines. A block
 * without its Q or A line is an Error naming `file:line`.
 */
export function parseCoTDemos(text: string, file = 'demos'): CoTDemo[] {
  const lines = text.split('\n');
  const starts = lines.flatMap((line, i) => (line.startsWith('# METADATA:') ? [i] : []));
  if (starts.length === 0) throw new Error(`${file}: no demonstrations (expected blocks starting with "# METADATA:")`);
  return starts.map((start, b) => {
    const block = lines.slice(start, starts[b + 1] ?? lines.length);
    let id: string | undefined;
    try {
      id = (JSON.parse(block[0].slice('# METADATA:'.length)) as { qid?: string }).qid;
    } catch {
      throw new Error(`${file}:${start + 1}: METADATA is not JSON`);
    }
    const q = block.findIndex((l) => l.startsWith('Q: '));
    const a = block.findIndex((l) => l.startsWith('A: '));
    if (q < 0 || a < q) throw new Error(`${file}:${start + 1}: demonstration has no "Q: " line followed by an "A: " line`);
    const context: Paragraph[] = [];
    for (let i = 1; i < q; i++) {
      if (!block[i].startsWith('Wikipedia Title: ')) continue;
      const body: string[] = [];
      for (let j = i + 1; j < q && block[j].trim() !== '' && !block[j].startsWith('Wikipedia Title: '); j++) body.push(block[j]);
      context.push({ title: block[i].slice('Wikipedia Title: '.length).trim(), text: body.join('\n').trim() });
    }
    return { id, context, question: block[q].slice(3).trim(), rationale: block[a].slice(3).trim() };
  });
}

/** {@link parseCoTDemos} of a file (plain or compressed, see `readDataFile`). */
export function loadCoTDemos(path: string): CoTDemo[] {
  return parseCoTDemos(readUtf8File(path), path);
}

/** A demonstration as prompt text: paragraphs, question, answer. */
export function renderDemo(demo: CoTDemo): string {
  const head = demo.context.length ? `${formatParagraphs(demo.context)}\n\n` : '';
  return `${head}Q: ${demo.question}\nA: ${demo.rationale}`;
}

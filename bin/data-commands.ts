import type { Argv } from 'yargs';
import { summarizeDataset, summarizeDatasets, type DatasetSummary } from '../lib/data/catalog';
import { DATASET_NAMES, isDatasetName } from '../lib/data/datasets';
import { ConfigError } from '../lib/experiment/config';
import { defaultDataDir } from '../lib/data/files';
import { loadDataset } from '../lib/data/datasets';
import { importRecordedRationales, questionWithChoices, RATIONALE_FORMATS, writeRationales, type RationaleFormat } from '../lib/data/rationales';
import type { Example } from '../lib/data/types';

/** Runs a command body and turns its outcome into the exit code (the CLI's own wrapper). */
export type CommandRunner = (body: () => Promise<void>) => Promise<void>;

const percent = (part: number, whole: number) => `${((part / Math.max(1, whole)) * 100).toFixed(1)}%`;

function summaryLine(s: DatasetSummary): string {
  if (!s.available) return `${s.name.padEnd(26)} not in the data folder`;
  const splits = Object.entries(s.splits).map(([split, n]) => (split === 'all' ? `${n}` : `${split} ${n}`)).join(', ');
  const teacher = s.teacher ? `${s.teacher.records} (${percent(s.teacher.correct, s.teacher.records)} correct)` : '-';
  return `${s.name.padEnd(26)} ${splits.padEnd(22)} ${s.answerTypes.join('/').padEnd(8)} ${teacher.padEnd(20)} ${s.source}`;
}

function exampleText(example: Example): string {
  const lines = [`id        ${example.id}`, `question  ${questionWithChoices(example)}`, `answer    ${example.answers.join(' | ')} (${example.answerType})`];
  if (example.context?.length) {
    lines.push(`context   ${example.context.length} paragraphs (${example.context.filter((p) => p.supporting).length} supporting)`);
    for (const p of example.context.slice(0, 3)) lines.push(`  ${p.supporting ? '*' : '-'} ${p.title}: ${p.text.slice(0, 100)}${p.text.length > 100 ? '...' : ''}`);
  }
  return lines.join('\n');
}

/** `rrl data [name]`: list the datasets with counts, answer types, sources and recorded teachers; or show one with an example. */
export function dataCommand(parser: Argv, run: CommandRunner): Argv {
  return parser.command('data [name]', 'list the datasets (questions, answer types, recorded teacher, source), or show one with an example',
    (y) => y
      .positional('name', { type: 'string', describe: 'a dataset name or alias, e.g. last_letters' })
      .option('data-dir', { type: 'string', describe: 'data folder (default: RRL_DATA_DIR, else the package\'s data/)' })
      .option('example', { type: 'number', default: 0, describe: 'which example to show (0-based position)' })
      .option('json', { type: 'boolean', default: false })
      .example('$0 data', 'every dataset')
      .example('$0 data aqua --example 3', 'one dataset and its fourth question'),
    (argv) => run(async () => {
      const dataDir = argv.dataDir ?? defaultDataDir();
      if (!argv.name) {
        const all = summarizeDatasets({ dataDir });
        if (argv.json) return void console.log(JSON.stringify({ dataDir, datasets: all }));
        console.log(`data folder: ${dataDir}\n`);
        console.log(`${'dataset'.padEnd(26)} ${'questions'.padEnd(22)} ${'answer'.padEnd(8)} ${'recorded teacher'.padEnd(20)} source`);
        for (const s of all) console.log(summaryLine(s));
        return;
      }
      if (!isDatasetName(argv.name)) throw new ConfigError('rrl data', [`unknown dataset "${argv.name}" (known: ${DATASET_NAMES.join(', ')})`]);
      const { summary, examples } = summarizeDataset(argv.name, { dataDir });
      if (!summary.available) throw new Error(summary.missing);
      const index = argv.example;
      if (!Number.isInteger(index) || index < 0 || index >= examples.length) {
        throw new Error(`--example ${index}: ${summary.name} has examples 0 to ${examples.length - 1}`);
      }
      if (argv.json) return void console.log(JSON.stringify({ ...summary, example: examples[index] }));
      console.log(summaryLine(summary));
      if (summary.aliases.length) console.log(`aliases   ${summary.aliases.join(', ')}`);
      console.log(`files     ${summary.files.join(', ')}`);
      if (summary.teacher) console.log(`teacher   ${summary.teacher.file}: ${summary.teacher.records} records, ${summary.teacher.correct} correct (${percent(summary.teacher.correct, summary.teacher.records)})`);
      console.log(`\nexample ${index} of ${examples.length}:\n${exampleText(examples[index])}`);
    }));
}

/**
 * `rrl import-rationales <file> --out <records.jsonl>`: recorded rationales from any source to RationaleRecords,
 * reporting matched / unmatched / ambiguous counts; the lines not imported go to `--unmatched`.
 */
export function importRationalesCommand(parser: Argv, run: CommandRunner): Argv {
  return parser.command('import-rationales <file>', 'convert recorded teacher rationales (zero-shot-CoT JSONL or log, Fine-tune-CoT, JSONL) to RationaleRecords',
    (y) => y.positional('file', { type: 'string', demandOption: true })
      .option('dataset', { type: 'string', describe: 'dataset the rationales belong to (default: the one the file names)' })
      .option('format', { choices: RATIONALE_FORMATS as unknown as string[], default: 'auto', describe: 'record style (auto: by content)' })
      .option('data-dir', { type: 'string', describe: 'data folder (default: RRL_DATA_DIR, else the package\'s data/)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output JSONL of RationaleRecords' })
      .option('unmatched', { type: 'string', describe: 'where the records not imported go (default: <out without .jsonl>.unmatched.jsonl)' })
      .example('$0 import-rationales log/date_understanding_zero_shot_cot.log --out teacher.jsonl', 'a Zero-shot-CoT log'),
    (argv) => run(async () => {
      const dataDir = argv.dataDir ?? defaultDataDir();
      if (argv.dataset && !isDatasetName(argv.dataset)) throw new ConfigError('rrl import-rationales', [`--dataset: unknown dataset "${argv.dataset}" (known: ${DATASET_NAMES.join(', ')})`]);
      const examples = argv.dataset ? loadDataset(argv.dataset, { dataDir }) : undefined;
      const unmatchedPath = argv.unmatched ?? `${argv.out.replace(/\.jsonl$/, '')}.unmatched.jsonl`;
      const { records, report } = importRecordedRationales(argv.file, { format: argv.format as RationaleFormat, examples, dataset: argv.dataset, dataDir, unmatchedPath });
      if (records.length === 0) {
        const first = report.problems[0];
        throw new Error(`${argv.file}: none of the ${report.total} records matched an example${first ? `; first: ${first.where}: ${first.reason}` : ''} (all listed in ${unmatchedPath})`);
      }
      writeRationales(argv.out, records);
      const correct = records.filter((r) => r.correct).length;
      console.log(`${report.format}: ${report.total} records, ${report.matched} matched, ${report.unmatched} unmatched, ${report.ambiguous} ambiguous`
        + `${report.reordered ? ` (${report.reordered} with options in another order, letters rewritten)` : ''}`);
      console.log(`${records.length} rationales -> ${argv.out} (teacher correct: ${correct}, ${percent(correct, records.length)})`);
      if (report.problems.length) console.log(`not imported: ${report.problems.length} -> ${unmatchedPath}`);
    }));
}

import { logger } from '../log/logger';
import { parseAnswer, scoreAnswer } from './answers';
import { getPath } from './custom';
import { loadDataset } from './datasets';
import { appendJsonl, readJson, readJsonlLines, readUtf8File, writeJsonl, type ReadJsonlOptions } from './jsonl';
import { answerInExampleLetters, ExampleMatcher, rationaleInExampleLetters, type MatchResult } from './recorded';
import { asObject, describe, isObject, stringField } from './records';
import type { Example, RationaleRecord } from './types';

/** Where a general JSONL file keeps each field, as dotted paths (default: the same names). */
export interface RationaleMapping {
  /** The example's id; records without one are matched by `question` (and `context`). */
  exampleId?: string;
  question?: string;
  context?: string;
  rationale?: string;
  answer?: string;
  correct?: string;
  strategy?: string;
  model?: string;
  dataset?: string;
}

/**
 * Record styles {@link importRationales} reads:
 * - `zero-shot-cot`: the recorded zero-shot-CoT JSONL files under `data/` (`{dataset, index, question, rationale,
 *   answer_trigger, teacher_answer, gold, teacher_correct}`);
 * - `zero-shot-cot-log`: the Zero-shot-CoT repository's own `log/<dataset>_zero_shot_cot.log` text (a `Namespace(...)`
 *   header, then per question `Q: ...`, `A: Let's think step by step. ...`, the answer line, `pred_mode : X`, `GT : Y`);
 * - `fine-tune-cot`: Fine-tune-CoT's completion files (`{metadata: {dataset_key, base_model, ...}, data: {index:
 *   [{question, answer, reasoning_completion, completion, ...}]}}`), the answer parsed from `completion`;
 * - `jsonl`: one rationale per line, fields named by `mapping`: an example id, or a question (any prompt wrapper)
 *   to match; this includes the project's own `RationaleRecord` files.
 * `auto` (the default) tells them apart by content.
 */
export type RationaleFormat = 'auto' | 'zero-shot-cot' | 'zero-shot-cot-log' | 'fine-tune-cot' | 'jsonl';

export const RATIONALE_FORMATS: readonly RationaleFormat[] = ['auto', 'zero-shot-cot', 'zero-shot-cot-log', 'fine-tune-cot', 'jsonl'];

/** Options for {@link importRationales}. */
export interface ImportRationalesOptions {
  /** Record style (default `auto`). */
  format?: RationaleFormat;
  /** Examples the rationales belong to; default: each record's dataset (or `dataset`) loaded from `dataDir`. */
  examples?: readonly Example[];
  /** Dataset of every record when the file does not name one (a name or alias `loadDataset` knows). */
  dataset?: string;
  /** Data folder for loading datasets when `examples` is not given (default: `defaultDataDir()`). */
  dataDir?: string;
  /** Field paths for the `jsonl` format. */
  mapping?: RationaleMapping;
  /** Strategy and model to record when the file does not say (defaults `zero-shot-cot` / `text-davinci-002` for zero-shot-CoT files, `recorded` / `unknown` otherwise). */
  strategy?: string;
  model?: string;
  /** Write the records that matched no example, or several different ones, here as JSONL (`{where, status, reason, record}`). */
  unmatchedPath?: string;
}

/** A recorded line that was not imported, and why. */
export interface UnmatchedRecord {
  /** `file:line`, or the entry's place in a JSON file. */
  where: string;
  status: 'unmatched' | 'ambiguous';
  reason: string;
  /** The record as read (a log record as its text). */
  record: unknown;
}

/** What an import matched. */
export interface ImportReport {
  format: Exclude<RationaleFormat, 'auto'>;
  total: number;
  matched: number;
  unmatched: number;
  ambiguous: number;
  /** Records whose multiple-choice options were recorded in another order (their letters were rewritten). */
  reordered: number;
  problems: UnmatchedRecord[];
}

/**
 * The question as zero-shot-CoT prompted it: the question, then `Answer Choices: (A) ... (B) ...` when it has
 * options.
 */
export function questionWithChoices(example: Pick<Example, 'question' | 'choices'>): string {
  if (!example.choices?.length) return example.question;
  return `${example.question} Answer Choices: ${example.choices.map((c) => `(${c.label}) ${c.text}`).join(' ')}`;
}

/** One recorded rationale as read from a file, before it is matched to an example. */
interface RecordedItem {
  where: string;
  record: unknown;
  dataset?: string;
  exampleId?: string;
  question?: string;
  context?: { text: string }[];
  rationale: string;
  /** The teacher's answer as recorded; with `parse`, generated text to read the answer from. */
  answer: string;
  parse?: boolean;
  recordedCorrect?: boolean;
  strategy: string;
  model: string;
  metadata: Record<string, unknown>;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));

function readZeroShotCotJsonl(path: string, options: ImportRationalesOptions): RecordedItem[] {
  return readJsonlLines(path).map(({ line, value }) => {
    const where = `${path}:${line}`;
    const record = asObject(value, where);
    return {
      where, record,
      dataset: stringField(record, 'dataset', where),
      question: stringField(record, 'question', where),
      rationale: text(record.rationale),
      answer: text(record.teacher_answer).trim(),
      recordedCorrect: typeof record.teacher_correct === 'boolean' ? record.teacher_correct : undefined,
      strategy: options.strategy ?? 'zero-shot-cot',
      model: options.model ?? 'text-davinci-002',
      metadata: { dataset: record.dataset, index: record.index, answerTrigger: record.answer_trigger, gold: record.gold, recordedCorrect: record.teacher_correct },
    };
  });
}

/** Zero-shot-CoT's `--model` names and the GPT-3 engines they called. */
const ZERO_SHOT_COT_ENGINES: Record<string, string> = {
  gpt3: 'text-ada-001', 'gpt3-medium': 'text-babbage-001', 'gpt3-large': 'text-curie-001', 'gpt3-xl': 'text-davinci-002',
};

/** A `key='value'` setting of the log's `Namespace(...)` header, with Python's escapes undone. */
function headerSetting(header: string, key: string): string | undefined {
  const match = new RegExp(`\\b${key}=(['"])((?:\\\\.|(?!\\1).)*)\\1`).exec(header);
  return match ? match[2].replace(/\\n/g, '\n').replace(/\\(['"\\])/g, '$1') : undefined;
}

function readZeroShotCotLog(path: string, options: ImportRationalesOptions): RecordedItem[] {
  const content = readUtf8File(path);
  const header = /Namespace\(([^\n]*)\)/.exec(content)?.[1] ?? '';
  const dataset = headerSetting(header, 'dataset');
  const cotTrigger = headerSetting(header, 'cot_trigger') ?? "Let's think step by step.";
  const answerTrigger = headerSetting(header, 'direct_answer_trigger');
  const engine = ZERO_SHOT_COT_ENGINES[headerSetting(header, 'model') ?? ''];
  const items: RecordedItem[] = [];
  // Each question: "Q: <question>\nA: <trigger> <rationale><answer trigger> <answer>\npred_before : ...\nGT : <gold>".
  const block = /(?:^|\n)Q: ([\s\S]*?)\nA: ([\s\S]*?)\npred_before :[\s\S]*?\npred_after :[ \t]*(.*)\n(?:[\s\S]*?\npred_mode :[ \t]*(.*)\n)?[\s\S]*?GT :[ \t]*(.*)/g;
  for (const match of content.matchAll(block)) {
    const [, question, completion, after, mode, gold] = match;
    const where = `${path}:${content.slice(0, match.index + (match[0].startsWith('\n') ? 1 : 0)).split('\n').length}`;
    let body = completion.startsWith(cotTrigger) ? completion.slice(cotTrigger.length) : completion;
    const cut = answerTrigger ? body.lastIndexOf(answerTrigger) : -1;
    const at = cut >= 0 ? cut : body.lastIndexOf('\nTherefore');
    const trigger = at >= 0 ? body.slice(at).trim() : '';
    body = at >= 0 ? body.slice(0, at) : body;
    const answer = (mode ?? after).trim();
    items.push({
      where, record: match[0].trim(), dataset: dataset ?? options.dataset, question,
      rationale: body, answer, recordedCorrect: answer === gold.trim(),
      strategy: options.strategy ?? 'zero-shot-cot', model: options.model ?? engine ?? 'unknown',
      metadata: { answerTrigger: trigger, gold: gold.trim(), recordedCorrect: answer === gold.trim() },
    });
  }
  if (items.length === 0) throw new Error(`${path}: no "Q: ... A: ... GT : ..." records found; is it a Zero-shot-CoT log?`);
  return items;
}

function readFineTuneCot(path: string, options: ImportRationalesOptions): RecordedItem[] {
  const file = asObject(readJson(path), path);
  const metadata = isObject(file.metadata) ? file.metadata : {};
  const data = asObject(file.data, `${path}: field "data"`);
  const dataset = typeof metadata.dataset_key === 'string' ? metadata.dataset_key : options.dataset;
  const zeroShot = metadata.completion_key === 'zs_cot';
  return Object.entries(data).flatMap(([index, samples]) => {
    if (!Array.isArray(samples)) throw new Error(`${path}: data["${index}"] must be a list of completion samples, got ${describe(samples)}`);
    return samples.map((sample, j): RecordedItem => {
      const where = `${path}: data["${index}"][${j}]`;
      const record = asObject(sample, where);
      return {
        where, record, dataset,
        question: stringField(record, 'question', where),
        rationale: text(record.reasoning_completion),
        answer: text(record.completion),
        parse: true,
        strategy: options.strategy ?? (zeroShot ? 'zero-shot-cot' : 'recorded'),
        model: options.model ?? (typeof metadata.base_model === 'string' ? metadata.base_model : 'unknown'),
        metadata: { sampleIndex: record.sample_index ?? Number(index), completionIndex: record.completion_index ?? j, gold: record.answer },
      };
    });
  });
}

function readGeneralJsonl(path: string, options: ImportRationalesOptions): RecordedItem[] {
  const fieldPath = (key: keyof RationaleMapping): string => options.mapping?.[key] ?? key;
  return readJsonlLines(path).map(({ line, value }) => {
    const where = `${path}:${line}`;
    const record = asObject(value, where);
    const field = (key: keyof RationaleMapping, fallback?: string): string => {
      const found = getPath(record, fieldPath(key));
      if (typeof found === 'number') return String(found);
      if (typeof found === 'string') return found;
      if (found === undefined && fallback !== undefined) return fallback;
      throw new Error(`${where}: field "${fieldPath(key)}" (${key}) must be a string, got ${found === undefined ? 'nothing' : describe(found)}`);
    };
    const exampleId = getPath(record, fieldPath('exampleId'));
    const question = getPath(record, fieldPath('question'));
    if (exampleId === undefined && typeof question !== 'string') {
      throw new Error(`${where}: needs an example id ("${fieldPath('exampleId')}") or a question ("${fieldPath('question')}") to match`);
    }
    const correct = getPath(record, fieldPath('correct'));
    if (correct !== undefined && typeof correct !== 'boolean') {
      throw new Error(`${where}: field "${fieldPath('correct')}" (correct) must be true or false, got ${describe(correct)}`);
    }
    const context = getPath(record, fieldPath('context'));
    const paragraphs = Array.isArray(context)
      ? context.map((p) => ({ text: typeof p === 'string' ? p : isObject(p) ? text(p.text ?? p.paragraph_text) : text(p) }))
      : typeof context === 'string' ? [{ text: context }] : undefined;
    return {
      where, record,
      dataset: typeof getPath(record, fieldPath('dataset')) === 'string' ? (getPath(record, fieldPath('dataset')) as string) : options.dataset,
      exampleId: exampleId === undefined ? undefined : field('exampleId'),
      question: typeof question === 'string' ? question : undefined,
      context: paragraphs,
      rationale: field('rationale'),
      answer: field('answer').trim(),
      recordedCorrect: correct as boolean | undefined,
      strategy: field('strategy', options.strategy ?? 'recorded'),
      model: field('model', options.model ?? 'unknown'),
      metadata: {},
    };
  });
}

/** The record style of a file, told apart by content. */
function detectFormat(path: string): Exclude<RationaleFormat, 'auto'> {
  const content = readUtf8File(path);
  const head = content.slice(0, 4096);
  if (/Namespace\(|^\*{5,}/.test(head) || /(?:^|\n)Q: [\s\S]*\nGT :/.test(head)) return 'zero-shot-cot-log';
  const first = head.trimStart().split('\n')[0];
  for (const candidate of [first, content]) {
    try {
      const value: unknown = JSON.parse(candidate);
      if (isObject(value) && isObject(value.data) && isObject(value.metadata)) return 'fine-tune-cot';
      if (isObject(value) && 'teacher_answer' in value && 'question' in value) return 'zero-shot-cot';
      if (isObject(value)) return 'jsonl';
    } catch {
      // not one JSON value: try the whole file next
    }
  }
  return 'jsonl';
}

const READERS: Record<Exclude<RationaleFormat, 'auto'>, (path: string, options: ImportRationalesOptions) => RecordedItem[]> = {
  'zero-shot-cot': readZeroShotCotJsonl,
  'zero-shot-cot-log': readZeroShotCotLog,
  'fine-tune-cot': readFineTuneCot,
  jsonl: readGeneralJsonl,
};

/** The imported records and a report of what matched. */
export interface ImportResult {
  records: RationaleRecord[];
  report: ImportReport;
}

/**
 * Import recorded teacher rationales from any source into `RationaleRecord`s (see {@link RationaleFormat}), so
 * teacher outputs already paid for can be reused. Records are matched to examples by id or by normalised question
 * text (prompt wrappers such as `Q: ... A:`, `Answer Choices: (A) ...` and BIG-bench cue lines removed) and context;
 * multiple-choice answers are carried through the options' text, and where the options were recorded in another
 * order the answer's and the rationale's letters are rewritten to the example's (`metadata.recordedLetters` keeps
 * the mapping). `correct` is rescored with `scoreAnswer`; a file's own verdict stays in `metadata.recordedCorrect`.
 * Records that match no example, or several different ones, are reported (and written to `unmatchedPath`), not
 * fatal; a malformed line is an Error naming `file:line`.
 */
export function importRecordedRationales(path: string, options: ImportRationalesOptions = {}): ImportResult {
  const format = !options.format || options.format === 'auto' ? detectFormat(path) : options.format;
  const read = READERS[format];
  if (!read) throw new Error(`importRationales: unknown format "${String(format)}" (known: ${RATIONALE_FORMATS.join(', ')})`);
  const items = read(path, options);
  const pools = new Map<string, { matcher: ExampleMatcher; byId: Map<string, Example> }>();
  const poolFor = (item: RecordedItem) => {
    const key = options.examples ? '' : (item.dataset ?? '');
    let pool = pools.get(key);
    if (!pool) {
      if (!options.examples && !item.dataset) return undefined;
      const examples = options.examples ?? loadDataset(item.dataset!, { dataDir: options.dataDir });
      pool = { matcher: new ExampleMatcher(examples), byId: new Map(examples.map((e) => [e.id, e])) };
      pools.set(key, pool);
    }
    return pool;
  };
  const records: RationaleRecord[] = [];
  const problems: UnmatchedRecord[] = [];
  let reordered = 0;
  for (const item of items) {
    const pool = poolFor(item);
    if (!pool) {
      // No examples to match against: only a record naming its example and its verdict can be taken as is.
      if (item.exampleId === undefined || item.recordedCorrect === undefined) {
        throw new Error(`${item.where}: no examples to match against (give examples or a dataset)${item.exampleId !== undefined ? ', and no "correct" field' : ''}`);
      }
      records.push({ exampleId: item.exampleId, rationale: item.rationale.trim(), answer: item.answer, correct: item.recordedCorrect, strategy: item.strategy, model: item.model });
      continue;
    }
    let match: MatchResult;
    if (item.exampleId !== undefined) {
      const example = pool.byId.get(item.exampleId);
      match = example
        ? { status: 'matched', example, recorded: { stem: example.question, options: example.choices } }
        : { status: 'unmatched', reason: `example id "${item.exampleId}" is not among the examples` };
    } else {
      match = pool.matcher.match({ question: item.question!, context: item.context });
    }
    if (match.status !== 'matched') {
      problems.push({ where: item.where, status: match.status, reason: match.reason, record: item.record });
      continue;
    }
    const { example } = match;
    const raw = item.parse ? parseAnswer(item.answer, example.answerType, { choices: match.recorded.options ?? example.choices }) : item.answer;
    const answer = answerInExampleLetters(raw, match);
    if (match.labelMap) reordered++;
    const metadata: Record<string, unknown> = { ...item.metadata };
    if (match.labelMap) {
      metadata.recordedAnswer = raw;
      metadata.recordedLetters = Object.fromEntries(match.labelMap);
    }
    const record: RationaleRecord = {
      exampleId: example.id,
      rationale: rationaleInExampleLetters(item.rationale.trim(), match.labelMap),
      answer,
      correct: scoreAnswer(answer, example) === 1,
      strategy: item.strategy,
      model: item.model,
    };
    const kept = Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined));
    if (Object.keys(kept).length) record.metadata = kept;
    records.push(record);
  }
  if (options.unmatchedPath) writeJsonl(options.unmatchedPath, problems);
  const count = (status: UnmatchedRecord['status']) => problems.filter((p) => p.status === status).length;
  return { records, report: { format, total: items.length, matched: records.length, unmatched: count('unmatched'), ambiguous: count('ambiguous'), reordered, problems } };
}

/**
 * {@link importRecordedRationales}, returning the records. Unmatched and ambiguous records are logged as one
 * warning (and written to `unmatchedPath` when given); a file of which no record matches is an Error.
 */
export function importRationales(path: string, options: ImportRationalesOptions = {}): RationaleRecord[] {
  const { records, report } = importRecordedRationales(path, options);
  if (report.total > 0 && report.matched === 0) {
    const first = report.problems[0];
    throw new Error(`${path}: none of the ${report.total} records matched an example; first: ${first.where}: ${first.reason}`);
  }
  if (report.problems.length) {
    logger.warn(`${path}: ${report.matched} of ${report.total} records imported, ${report.unmatched} unmatched, ${report.ambiguous} ambiguous`
      + `${options.unmatchedPath ? ` (listed in ${options.unmatchedPath})` : ''}; first: ${report.problems[0].where}: ${report.problems[0].reason}`);
  }
  return records;
}

function validateRecord(value: unknown, where: string): RationaleRecord {
  const record = asObject(value, where);
  for (const key of ['exampleId', 'rationale', 'answer', 'strategy', 'model'] as const) {
    if (typeof record[key] !== 'string') throw new Error(`${where}: field "${key}" must be a string, got ${describe(record[key])}`);
  }
  if (typeof record.correct !== 'boolean') throw new Error(`${where}: field "correct" must be true or false, got ${describe(record.correct)}`);
  if (record.metadata !== undefined) asObject(record.metadata, `${where}: metadata`);
  return record as unknown as RationaleRecord;
}

/**
 * Read a file of `RationaleRecord`s (JSONL). A torn last line, left by a crash during an append, is dropped with a
 * warning; any other bad line is an Error naming `file:line`.
 */
export function readRationales(path: string, options: Pick<ReadJsonlOptions, 'onWarning'> = {}): RationaleRecord[] {
  return readJsonlLines(path, { ...options, allowTornLastLine: true }).map(({ line, value }) => validateRecord(value, `${path}:${line}`));
}

/** Options for {@link writeRationales}. */
export interface WriteRationalesOptions extends Pick<ReadJsonlOptions, 'onWarning'> {
  /** Append to the file (flushed per call; a torn last line is cut first) instead of replacing it atomically. */
  append?: boolean;
}

/** Write `RationaleRecord`s as JSONL: atomically replacing the file, or appended for long runs. */
export function writeRationales(path: string, records: readonly RationaleRecord[], options: WriteRationalesOptions = {}): void {
  records.forEach((record, i) => validateRecord(record, `record ${i} for ${path}`));
  if (options.append) appendJsonl(path, records, options);
  else writeJsonl(path, records);
}

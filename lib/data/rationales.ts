import { scoreAnswer } from './answers';
import { getPath } from './custom';
import { loadDataset } from './datasets';
import { appendJsonl, readJsonlLines, writeJsonl, type ReadJsonlOptions } from './jsonl';
import { asObject, describe, stringField } from './records';
import type { Example, RationaleRecord } from './types';

/** Where a general JSONL file keeps each `RationaleRecord` field, as dotted paths (default: the same names). */
export interface RationaleMapping {
  exampleId?: string;
  rationale?: string;
  answer?: string;
  correct?: string;
  strategy?: string;
  model?: string;
}

/** Options for {@link importRationales}. */
export interface ImportRationalesOptions {
  /**
   * `zero-shot-cot`: the recorded zero-shot-CoT teacher files (`{dataset, index, question, rationale,
   * answer_trigger, teacher_answer, gold, teacher_correct}`), matched to examples by question text.
   * `jsonl`: one rationale per line, fields named by `mapping`. Default `zero-shot-cot`.
   */
  format?: 'zero-shot-cot' | 'jsonl';
  /** Examples the rationales belong to; default for `zero-shot-cot`: each record's dataset from `dataDir`. */
  examples?: readonly Example[];
  /** Data folder for loading datasets when `examples` is not given (default: `defaultDataDir()`). */
  dataDir?: string;
  /** Field paths for the `jsonl` format. */
  mapping?: RationaleMapping;
  /** Strategy and model to record when the file does not say (defaults `zero-shot-cot` / `text-davinci-002` for zero-shot-cot files, `recorded` / `unknown` otherwise). */
  strategy?: string;
  model?: string;
}

/**
 * The question as zero-shot-CoT prompted it: the question, then `Answer Choices: (A) ... (B) ...` when it has
 * options.
 */
export function questionWithChoices(example: Pick<Example, 'question' | 'choices'>): string {
  if (!example.choices?.length) return example.question;
  return `${example.question} Answer Choices: ${example.choices.map((c) => `(${c.label}) ${c.text}`).join(' ')}`;
}

/** Question text for matching: whitespace removed (the sources differ in spacing around parentheses), lowercase. */
function matchKey(text: string): string {
  return text.replace(/\s+/g, '').toLowerCase();
}

/** Finds the example a recorded question belongs to; repeated questions are handed out in order. */
class QuestionIndex {
  private readonly byKey = new Map<string, Example[]>();
  private readonly used = new Set<string>();

  constructor(examples: readonly Example[]) {
    for (const example of examples) {
      const key = matchKey(questionWithChoices(example));
      const list = this.byKey.get(key) ?? [];
      list.push(example);
      this.byKey.set(key, list);
    }
  }

  take(question: string): Example | undefined {
    const candidates = this.byKey.get(matchKey(question));
    if (!candidates) return undefined;
    const example = candidates.find((e) => !this.used.has(e.id)) ?? candidates[0];
    this.used.add(example.id);
    return example;
  }
}

function importZeroShotCot(path: string, options: ImportRationalesOptions): RationaleRecord[] {
  const indexes = new Map<string, QuestionIndex>();
  const indexFor = (dataset: string): QuestionIndex => {
    const key = options.examples ? '' : dataset;
    let index = indexes.get(key);
    if (!index) {
      index = new QuestionIndex(options.examples ?? loadDataset(dataset, { dataDir: options.dataDir }));
      indexes.set(key, index);
    }
    return index;
  };
  return readJsonlLines(path).map(({ line, value }) => {
    const where = `${path}:${line}`;
    const record = asObject(value, where);
    const dataset = stringField(record, 'dataset', where);
    const question = stringField(record, 'question', where);
    const rationale = typeof record.rationale === 'string' ? record.rationale : '';
    const answer = typeof record.teacher_answer === 'string' ? record.teacher_answer.trim() : String(record.teacher_answer ?? '');
    const example = indexFor(dataset).take(question);
    if (!example) throw new Error(`${where}: question not found in the examples of "${dataset}": ${JSON.stringify(question.slice(0, 80))}`);
    return {
      exampleId: example.id,
      rationale: rationale.trim(),
      answer,
      correct: scoreAnswer(answer, example) === 1,
      strategy: options.strategy ?? 'zero-shot-cot',
      model: options.model ?? 'text-davinci-002',
      metadata: {
        dataset,
        index: record.index,
        answerTrigger: record.answer_trigger,
        gold: record.gold,
        recordedCorrect: record.teacher_correct,
      },
    };
  });
}

function importGeneral(path: string, options: ImportRationalesOptions): RationaleRecord[] {
  const fieldPath = (key: keyof RationaleMapping): string => options.mapping?.[key] ?? key;
  const examples = options.examples ? new Map(options.examples.map((e) => [e.id, e])) : undefined;
  return readJsonlLines(path).map(({ line, value }) => {
    const where = `${path}:${line}`;
    const record = asObject(value, where);
    const text = (key: keyof RationaleMapping, fallback?: string): string => {
      const found = getPath(record, fieldPath(key));
      if (typeof found === 'number') return String(found);
      if (typeof found === 'string') return found;
      if (found === undefined && fallback !== undefined) return fallback;
      throw new Error(`${where}: field "${fieldPath(key)}" (${key}) must be a string, got ${found === undefined ? 'nothing' : describe(found)}`);
    };
    const exampleId = text('exampleId');
    const answer = text('answer').trim();
    const example = examples?.get(exampleId);
    if (examples && !example) throw new Error(`${where}: example id "${exampleId}" is not among the given examples`);
    const recordedCorrect = getPath(record, fieldPath('correct'));
    if (recordedCorrect !== undefined && typeof recordedCorrect !== 'boolean') {
      throw new Error(`${where}: field "${fieldPath('correct')}" (correct) must be true or false, got ${describe(recordedCorrect)}`);
    }
    if (!example && recordedCorrect === undefined) {
      throw new Error(`${where}: no "${fieldPath('correct')}" field, and no examples given to score the answer against`);
    }
    return {
      exampleId,
      rationale: text('rationale').trim(),
      answer,
      correct: example ? scoreAnswer(answer, example) === 1 : (recordedCorrect as boolean),
      strategy: text('strategy', options.strategy ?? 'recorded'),
      model: text('model', options.model ?? 'unknown'),
    };
  });
}

/**
 * Import recorded teacher rationales into `RationaleRecord`s, so teacher outputs already paid for can be reused.
 * With examples (given or loaded), `correct` is recomputed with {@link scoreAnswer}; `zero-shot-cot` files keep
 * the file's own verdict in `metadata.recordedCorrect`. A bad line is an Error naming `file:line`.
 */
export function importRationales(path: string, options: ImportRationalesOptions = {}): RationaleRecord[] {
  const format = options.format ?? 'zero-shot-cot';
  if (format === 'zero-shot-cot') return importZeroShotCot(path, options);
  if (format === 'jsonl') return importGeneral(path, options);
  throw new Error(`importRationales: unknown format "${String(format)}" (known: zero-shot-cot, jsonl)`);
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

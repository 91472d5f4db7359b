import { parseJsonlText, parseJsonText, readUtf8File, recordTooLarge } from './jsonl';

/** The largest dataset or questions record read (1 MiB as UTF-8, as a JSONL line or a list item's JSON). */
export const MAX_RECORD_BYTES = 2 ** 20;

/** One raw record of a dataset file, with where it came from (for error messages) and its position. */
export interface RawRecord {
  value: unknown;
  /** e.g. `data/x.jsonl:17` or `data/x.json: item 16 of "examples"` (items count from 0). */
  where: string;
  /** 0-based position in the file. */
  index: number;
}

/**
 * The records of a dataset file in any of the containers the sources use: a JSON list (MAWPS, SVAMP, HotpotQA),
 * a JSON object with an `examples` list (BIG-bench, coin flip, last letters), or JSON Lines (GSM8K, AQuA's
 * `test.json`, CommonsenseQA, IRCoT), told apart by content, not by file name. A record over `maxRecordBytes`
 * (default {@link MAX_RECORD_BYTES}) is an Error naming where it is and the limit.
 */
export function readRecords(path: string, maxRecordBytes = MAX_RECORD_BYTES): RawRecord[] {
  const text = readUtf8File(path);
  const start = text.trimStart();
  if (start.startsWith('[')) return listRecords(parseJsonText(text, path), path, '', maxRecordBytes);
  if (start.startsWith('{')) {
    const whole = tryParse(text);
    if (isObject(whole) && Array.isArray(whole.examples)) return listRecords(whole.examples, path, 'examples', maxRecordBytes);
  }
  return parseJsonlText(text, path, { maxLineBytes: maxRecordBytes }).map(({ line, value }, index) => ({ value, where: `${path}:${line}`, index }));
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function listRecords(list: unknown, path: string, key: string, maxRecordBytes: number): RawRecord[] {
  if (!Array.isArray(list)) throw new Error(`${path}: expected a JSON list${key ? ` under "${key}"` : ''}`);
  const of = key ? `"${key}"` : 'the list';
  return list.map((value, index) => {
    const where = `${path}: item ${index} of ${of}`;
    const bytes = Buffer.byteLength(JSON.stringify(value));
    if (bytes > maxRecordBytes) throw recordTooLarge(where, bytes, maxRecordBytes);
    return { value, where, index };
  });
}

/** A plain JSON object (not null, not a list). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The record as an object, or an Error naming where it is. */
export function asObject(value: unknown, where: string): Record<string, unknown> {
  if (!isObject(value)) throw new Error(`${where}: expected a JSON object, got ${describe(value)}`);
  return value;
}

/** A short description of a value for error messages: `a number`, `the string "abc"`, `a list`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `a ${typeof value}`;
}

/** A required non-empty string field. */
export function stringField(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`${where}: field "${key}" must be a non-empty string, got ${value === undefined ? 'nothing' : describe(value)}`);
  }
  return value;
}

/** A required field holding a number or a numeric string, returned as text. */
export function numberField(record: Record<string, unknown>, key: string, where: string): string {
  return numberValue(record[key], key, where);
}

/** A number or numeric string as text; `label` names it in the error. */
export function numberValue(value: unknown, label: string, where: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value.replace(/,/g, '')))) return value.trim();
  throw new Error(`${where}: field "${label}" must be a number, got ${value === undefined ? 'nothing' : describe(value)}`);
}

/** A required list field. */
export function listField(record: Record<string, unknown>, key: string, where: string): unknown[] {
  const value = record[key];
  if (!Array.isArray(value)) throw new Error(`${where}: field "${key}" must be a list, got ${value === undefined ? 'nothing' : describe(value)}`);
  return value;
}

/** A required object field. */
export function objectField(record: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const value = record[key];
  if (!isObject(value)) throw new Error(`${where}: field "${key}" must be an object, got ${value === undefined ? 'nothing' : describe(value)}`);
  return value;
}

import { basename, extname } from 'node:path';
import { canonicalNumber } from './answers';
import { asObject, describe, isObject, readRecords } from './records';
import { inferAnswerType } from './sources';
import type { AnswerType, Choice, Example, Paragraph } from './types';

/**
 * Where a user's records keep each field, as dotted paths (`"q"`, `"meta.gold.0"`). `answer` may hold a string,
 * a number, a boolean or a list of accepted aliases; `context` a string, a list of strings, of `{title, text}`
 * objects or of `[title, sentences]` pairs; `choices` a list of strings (labelled A, B, ...), of `{label, text}`
 * objects, or an object from label to text.
 */
export interface FieldMapping {
  question: string;
  answer: string;
  context?: string;
  choices?: string;
  id?: string;
}

/** Options for {@link loadJsonl}. */
export interface LoadJsonlOptions {
  /** Default: `choice` if choices are mapped, else yes-no / number / text, whichever fits every answer. */
  answerType?: AnswerType;
  /** Id prefix (default: the file name without extension). */
  dataset?: string;
}

const MAPPING_KEYS = ['question', 'answer', 'context', 'choices', 'id'];

/** The value at a dotted path (`a.b.0.c`), or undefined. */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(key)) current = current[Number(key)];
    else if (isObject(current)) current = current[key];
    else return undefined;
  }
  return current;
}

function answerList(value: unknown, where: string, path: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  const answers = items.map((item) => (typeof item === 'boolean' ? (item ? 'yes' : 'no') : typeof item === 'number' ? String(item) : item));
  if (answers.length === 0 || !answers.every((a): a is string => typeof a === 'string' && a.trim() !== '')) {
    throw new Error(`${where}: answer field "${path}" must be a non-empty string, number, boolean or list of them, got ${describe(value)}`);
  }
  return answers.map((a) => a.trim());
}

function paragraphList(value: unknown, where: string, path: string): Paragraph[] {
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) throw new Error(`${where}: context field "${path}" must be a string or a list, got ${describe(value)}`);
  return items.map((item, i) => {
    if (typeof item === 'string') return { title: '', text: item };
    if (Array.isArray(item) && typeof item[0] === 'string' && (typeof item[1] === 'string' || Array.isArray(item[1]))) {
      return { title: item[0], text: Array.isArray(item[1]) ? item[1].join(' ') : item[1] };
    }
    if (isObject(item) && typeof item.text === 'string') {
      const paragraph: Paragraph = { title: typeof item.title === 'string' ? item.title : '', text: item.text };
      if (typeof item.supporting === 'boolean') paragraph.supporting = item.supporting;
      return paragraph;
    }
    throw new Error(`${where}: ${path}[${i}] must be a string, {title, text} or [title, sentences], got ${describe(item)}`);
  });
}

function choiceList(value: unknown, where: string, path: string): Choice[] {
  if (isObject(value)) return Object.entries(value).map(([label, text]) => ({ label, text: String(text) }));
  if (!Array.isArray(value)) throw new Error(`${where}: choices field "${path}" must be a list or an object, got ${describe(value)}`);
  return value.map((item, i) => {
    if (typeof item === 'string') return { label: String.fromCharCode(65 + i), text: item };
    if (isObject(item) && typeof item.label === 'string' && typeof item.text === 'string') return { label: item.label, text: item.text };
    throw new Error(`${where}: ${path}[${i}] must be a string or {label, text}, got ${describe(item)}`);
  });
}

/**
 * Load a user's own JSONL (or JSON list) file, reading each field from where `mapping` says. Ids are
 * `<dataset>/<id field>` or `<dataset>/<line position>`; a record lacking a mapped field is an Error naming the
 * file, line and field.
 */
export function loadJsonl(path: string, mapping: FieldMapping, options: LoadJsonlOptions = {}): Example[] {
  for (const key of Object.keys(mapping)) {
    if (!MAPPING_KEYS.includes(key)) throw new Error(`field mapping for ${path}: unknown key "${key}" (known: ${MAPPING_KEYS.join(', ')})`);
  }
  for (const key of ['question', 'answer'] as const) {
    if (typeof mapping[key] !== 'string' || mapping[key] === '') throw new Error(`field mapping for ${path}: "${key}" is required`);
  }
  const dataset = options.dataset ?? basename(path, extname(path));
  const examples = readRecords(path).map((raw): Example => {
    const record = asObject(raw.value, raw.where);
    const question = getPath(record, mapping.question);
    if (typeof question !== 'string' || question.trim() === '') {
      throw new Error(`${raw.where}: question field "${mapping.question}" must be a non-empty string, got ${describe(question)}`);
    }
    const sourceId = mapping.id === undefined ? undefined : getPath(record, mapping.id);
    if (mapping.id !== undefined && typeof sourceId !== 'string' && typeof sourceId !== 'number') {
      throw new Error(`${raw.where}: id field "${mapping.id}" must be a string or number, got ${describe(sourceId)}`);
    }
    const example: Example = {
      id: `${dataset}/${sourceId ?? raw.index}`,
      question: question.trim(),
      answers: answerList(getPath(record, mapping.answer), raw.where, mapping.answer),
      answerType: 'text',
      dataset,
    };
    if (mapping.context !== undefined) example.context = paragraphList(getPath(record, mapping.context), raw.where, mapping.context);
    if (mapping.choices !== undefined) example.choices = choiceList(getPath(record, mapping.choices), raw.where, mapping.choices);
    return example;
  });
  const answerType = options.answerType ?? (mapping.choices !== undefined ? 'choice' : commonAnswerType(examples));
  const seen = new Set<string>();
  for (const example of examples) {
    if (seen.has(example.id)) throw new Error(`${path}: duplicate id "${example.id}"`);
    seen.add(example.id);
    example.answerType = answerType;
    if (answerType === 'yes-no') example.answers = example.answers.map((a) => a.toLowerCase());
    if (answerType === 'number') example.answers = example.answers.map((a) => canonicalNumber(a) ?? a);
  }
  return examples;
}

/** The answer type every example's answers fit: yes-no, else number, else text. */
function commonAnswerType(examples: readonly Example[]): AnswerType {
  const types = new Set(examples.flatMap((e) => e.answers.map(inferAnswerType)));
  return types.size === 1 ? [...types][0] : 'text';
}

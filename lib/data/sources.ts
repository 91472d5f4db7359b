import { Random } from '../random';
import { canonicalNumber } from './answers';
import {
  asObject, describe, isObject, listField, numberField, numberValue, objectField, readRecords, stringField, type RawRecord,
} from './records';
import type { AnswerType, Choice, Example, Paragraph } from './types';

/**
 * The file formats of the supported datasets, as their sources publish them:
 * - `mawps`: AddSub, MultiArith, SingleEq — JSON list of `{sQuestion, lSolutions, lEquations, iIndex}`;
 * - `gsm8k`: JSONL of `{question, answer}`, the answer ending in `#### <number>`;
 * - `aqua`: JSONL of `{question, options: ["A)..."], rationale, correct}`;
 * - `svamp`: JSON list of `{ID, Body, Question, Equation, Answer, Type}`;
 * - `commonsenseqa`: JSONL of `{id, answerKey, question: {stem, choices: [{label, text}]}}`;
 * - `bigbench`: BIG-bench task JSON, `examples: [{input, target_scores}]` (StrategyQA, Date Understanding,
 *   Tracking Shuffled Objects); Yes/No target scores give a yes-no set, anything else lettered choices;
 * - `question-answer`: `{examples: [{question, answer}]}` (Last Letter Concatenation, Coin Flip);
 * - `hotpotqa`, `2wikimultihopqa`: the original JSON lists, `{_id, question, answer, context: [[title, [sentences]]],
 *   supporting_facts: [[title, sentence index]]}` (+ `type`, `level`; 2Wiki also `evidences`);
 * - `ircot`: IRCoT's processed JSONL, `{question_id, question_text, answers_objects, contexts: [{title,
 *   paragraph_text, is_supporting}]}`.
 */
export type DatasetFormat =
  | 'mawps' | 'gsm8k' | 'aqua' | 'svamp' | 'commonsenseqa' | 'bigbench' | 'question-answer'
  | 'hotpotqa' | '2wikimultihopqa' | 'ircot';

export const DATASET_FORMATS: readonly DatasetFormat[] = [
  'mawps', 'gsm8k', 'aqua', 'svamp', 'commonsenseqa', 'bigbench', 'question-answer', 'hotpotqa', '2wikimultihopqa', 'ircot',
];

/** Options for {@link loadDatasetFile}. */
export interface DatasetFileOptions {
  /** Dataset name, the prefix of every id (default: the format name). */
  dataset?: string;
  /** Split the file holds (`train` / `test`), recorded in `metadata.split` and used by `splitExamples`. */
  split?: string;
  /** Override the answer type (`question-answer` otherwise infers it: yes/no, numbers, else text). */
  answerType?: AnswerType;
  /**
   * Shuffle a multiple-choice record's options (seeded by its position), for sets whose source lists the right
   * option first (BIG-bench Date Understanding), as zero-shot-CoT did.
   */
  shuffleChoices?: boolean;
}

/** What a format parser reads from one record; ids and names are added by {@link loadDatasetFile}. */
interface ParsedRecord {
  question: string;
  answers: string[];
  answerType: AnswerType;
  /** The source's own id, when it has one. */
  sourceId?: string;
  choices?: Choice[];
  context?: Paragraph[];
  metadata?: Record<string, unknown>;
}

type RecordParser = (record: Record<string, unknown>, where: string, raw: RawRecord, options: DatasetFileOptions) => ParsedRecord;

function numberAnswer(text: string, where: string, key: string): string {
  const canonical = canonicalNumber(text);
  if (canonical === undefined) throw new Error(`${where}: field "${key}" is not a number: ${JSON.stringify(text)}`);
  return canonical;
}

const parseMawps: RecordParser = (record, where) => {
  const solutions = listField(record, 'lSolutions', where);
  if (solutions.length === 0) throw new Error(`${where}: field "lSolutions" is empty`);
  return {
    question: stringField(record, 'sQuestion', where).trim(),
    answers: [numberAnswer(numberValue(solutions[0], 'lSolutions', where), where, 'lSolutions')],
    answerType: 'number',
    metadata: { equations: record.lEquations, sourceIndex: record.iIndex },
  };
};

const parseGsm8k: RecordParser = (record, where) => {
  const solution = stringField(record, 'answer', where);
  const marker = solution.lastIndexOf('####');
  if (marker < 0) throw new Error(`${where}: field "answer" has no "#### <number>" final answer`);
  return {
    question: stringField(record, 'question', where).trim(),
    answers: [numberAnswer(solution.slice(marker + 4).trim(), where, 'answer')],
    answerType: 'number',
    metadata: { solution: solution.slice(0, marker).trim() },
  };
};

const parseAqua: RecordParser = (record, where) => {
  const choices = listField(record, 'options', where).map((option, i) => {
    const match = typeof option === 'string' ? /^\s*\(?([A-Z])\)\s*([\s\S]*)$/.exec(option) : null;
    if (!match) throw new Error(`${where}: options[${i}] must look like "A)text", got ${describe(option)}`);
    return { label: match[1], text: match[2].trim() };
  });
  const correct = stringField(record, 'correct', where).trim();
  if (!choices.some((c) => c.label === correct)) throw new Error(`${where}: field "correct" is "${correct}", not one of the option labels`);
  return {
    question: stringField(record, 'question', where).trim(),
    answers: [correct],
    answerType: 'choice',
    choices,
    metadata: typeof record.rationale === 'string' ? { rationale: record.rationale } : undefined,
  };
};

const parseSvamp: RecordParser = (record, where) => ({
  question: `${stringField(record, 'Body', where).trim()} ${stringField(record, 'Question', where).trim()}`,
  answers: [numberAnswer(numberField(record, 'Answer', where), where, 'Answer')],
  answerType: 'number',
  sourceId: typeof record.ID === 'string' ? record.ID : undefined,
  metadata: { equation: record.Equation, type: record.Type },
});

const parseCommonsenseQa: RecordParser = (record, where) => {
  const question = objectField(record, 'question', where);
  const choices = listField(question, 'choices', `${where}: question`).map((choice, i) => {
    const at = `${where}: question.choices[${i}]`;
    const object = asObject(choice, at);
    return { label: stringField(object, 'label', at), text: stringField(object, 'text', at) };
  });
  const answerKey = stringField(record, 'answerKey', where).trim();
  if (!choices.some((c) => c.label === answerKey)) throw new Error(`${where}: field "answerKey" is "${answerKey}", not one of the choice labels`);
  return {
    question: stringField(question, 'stem', `${where}: question`).trim(),
    answers: [answerKey],
    answerType: 'choice',
    choices,
    sourceId: typeof record.id === 'string' ? record.id : undefined,
    metadata: typeof question.question_concept === 'string' ? { concept: question.question_concept } : undefined,
  };
};

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

const parseBigBench: RecordParser = (record, where, raw, options) => {
  const scores = objectField(record, 'target_scores', where);
  let targets = Object.entries(scores).map(([text, score]) => {
    if (typeof score !== 'number') throw new Error(`${where}: target_scores["${text}"] must be a number, got ${describe(score)}`);
    return { text, score };
  });
  if (targets.length < 2) throw new Error(`${where}: field "target_scores" needs at least two options`);
  const best = Math.max(...targets.map((o) => o.score));
  const question = stringField(record, 'input', where).trim();
  const metadata = typeof record.target === 'string' ? { explanation: record.target } : undefined;
  const texts = targets.map((o) => o.text.trim().toLowerCase()).sort();
  if (texts.length === 2 && texts[0] === 'no' && texts[1] === 'yes') {
    const answer = targets.find((o) => o.score === best)!.text.trim().toLowerCase();
    return { question, answers: [answer], answerType: 'yes-no', metadata };
  }
  if (targets.length > LETTERS.length) throw new Error(`${where}: field "target_scores" has more than ${LETTERS.length} options`);
  if (options.shuffleChoices) targets = new Random(raw.index + 1).shuffle(targets);
  const choices = targets.map((o, i) => ({ label: LETTERS[i], text: o.text }));
  return { question, answers: [choices[targets.findIndex((o) => o.score === best)].label], answerType: 'choice', choices, metadata };
};

/** Answer type of a plain-string answer: yes/no, a number, or free text. */
export function inferAnswerType(answer: string): AnswerType {
  if (/^(yes|no)$/i.test(answer.trim())) return 'yes-no';
  if (canonicalNumber(answer) !== undefined) return 'number';
  return 'text';
}

const parseQuestionAnswer: RecordParser = (record, where, _raw, options) => {
  const answer = stringField(record, 'answer', where).trim();
  const answerType = options.answerType ?? inferAnswerType(answer);
  return {
    question: stringField(record, 'question', where).trim(),
    answers: [answerType === 'number' ? numberAnswer(answer, where, 'answer') : answerType === 'yes-no' ? answer.toLowerCase() : answer],
    answerType,
  };
};

/** Sentences of a HotpotQA/2Wiki paragraph joined back into text (HotpotQA keeps each sentence's leading space). */
function joinSentences(sentences: unknown[], where: string): string {
  return sentences
    .map((sentence, i) => {
      if (typeof sentence !== 'string') throw new Error(`${where}: sentence ${i} must be a string, got ${describe(sentence)}`);
      return i > 0 && !/^\s/.test(sentence) ? ` ${sentence}` : sentence;
    })
    .join('')
    .trim();
}

const parseMultihopOriginal: RecordParser = (record, where) => {
  const facts = listField(record, 'supporting_facts', where).map((fact, i) => {
    if (!Array.isArray(fact) || typeof fact[0] !== 'string' || typeof fact[1] !== 'number') {
      throw new Error(`${where}: supporting_facts[${i}] must be [title, sentence index], got ${JSON.stringify(fact)}`);
    }
    return { title: fact[0], sentence: fact[1] };
  });
  const supportingTitles = new Set(facts.map((f) => f.title));
  const context = listField(record, 'context', where).map((entry, i) => {
    const at = `${where}: context[${i}]`;
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) {
      throw new Error(`${at}: must be [title, [sentences]], got ${describe(entry)}`);
    }
    return { title: entry[0], text: joinSentences(entry[1], at), supporting: supportingTitles.has(entry[0]) };
  });
  const metadata: Record<string, unknown> = { supportingFacts: facts };
  for (const key of ['type', 'level', 'evidences'] as const) if (record[key] !== undefined) metadata[key] = record[key];
  return {
    question: stringField(record, 'question', where).trim(),
    answers: [stringField(record, 'answer', where).trim()],
    answerType: 'text',
    context,
    sourceId: stringField(record, '_id', where),
    metadata,
  };
};

/** One IRCoT `answers_objects` entry as text: its spans, else its number, else its date. */
function ircotAnswer(object: unknown, where: string): string {
  if (!isObject(object)) throw new Error(`${where}: must be an object, got ${describe(object)}`);
  const spans = Array.isArray(object.spans) ? object.spans.filter((s): s is string => typeof s === 'string' && s.trim() !== '') : [];
  if (spans.length) return spans.join(', ');
  if (typeof object.number === 'string' && object.number.trim() !== '') return object.number.trim();
  if (isObject(object.date)) {
    const { day, month, year } = object.date;
    const date = [month, day, year].filter((part) => typeof part === 'string' && part !== '').join(' ');
    if (date) return date;
  }
  throw new Error(`${where}: has no answer in spans, number or date`);
}

const parseIrcot: RecordParser = (record, where) => {
  const answers = listField(record, 'answers_objects', where).map((object, i) => ircotAnswer(object, `${where}: answers_objects[${i}]`));
  if (answers.length === 0) throw new Error(`${where}: field "answers_objects" is empty`);
  const context = listField(record, 'contexts', where).map((entry, i) => {
    const at = `${where}: contexts[${i}]`;
    const paragraph = asObject(entry, at);
    return {
      title: typeof paragraph.title === 'string' ? paragraph.title : '',
      text: stringField(paragraph, 'paragraph_text', at).trim(),
      supporting: paragraph.is_supporting === true,
    };
  });
  return {
    question: stringField(record, 'question_text', where).trim(),
    answers,
    answerType: 'text',
    context,
    sourceId: stringField(record, 'question_id', where),
  };
};

const PARSERS: Record<DatasetFormat, RecordParser> = {
  mawps: parseMawps,
  gsm8k: parseGsm8k,
  aqua: parseAqua,
  svamp: parseSvamp,
  commonsenseqa: parseCommonsenseQa,
  bigbench: parseBigBench,
  'question-answer': parseQuestionAnswer,
  hotpotqa: parseMultihopOriginal,
  '2wikimultihopqa': parseMultihopOriginal,
  ircot: parseIrcot,
};

/**
 * Load one dataset file in a known format. Ids are `<dataset>/<source id>` where the source has ids, else
 * `<dataset>/[<split>/]<position in file>`; a record with a missing or wrong field is an Error naming the file and
 * line (JSONL) or list position (JSON).
 */
export function loadDatasetFile(path: string, format: DatasetFormat, options: DatasetFileOptions = {}): Example[] {
  const parse = PARSERS[format];
  if (!parse) throw new Error(`${path}: unknown dataset format "${format}" (known: ${DATASET_FORMATS.join(', ')})`);
  const dataset = options.dataset ?? format;
  const seen = new Set<string>();
  return readRecords(path).map((raw) => {
    const parsed = parse(asObject(raw.value, raw.where), raw.where, raw, options);
    const id = `${dataset}/${parsed.sourceId ?? `${options.split ? `${options.split}/` : ''}${raw.index}`}`;
    if (seen.has(id)) throw new Error(`${raw.where}: duplicate id "${id}"`);
    seen.add(id);
    const metadata = Object.fromEntries(
      Object.entries({ ...parsed.metadata, split: options.split }).filter(([, value]) => value !== undefined),
    );
    const example: Example = { id, question: parsed.question, answers: parsed.answers, answerType: parsed.answerType, dataset };
    if (parsed.context) example.context = parsed.context;
    if (parsed.choices) example.choices = parsed.choices;
    if (Object.keys(metadata).length) example.metadata = metadata;
    return example;
  });
}

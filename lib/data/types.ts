/** How a dataset's gold answer is compared with a prediction. */
export type AnswerType = 'number' | 'choice' | 'yes-no' | 'text';

/** One context paragraph (multi-hop QA); `supporting` marks gold supporting paragraphs where known. */
export interface Paragraph {
  title: string;
  text: string;
  supporting?: boolean;
}

/** A multiple-choice option, e.g. `{ label: 'A', text: '42' }`. */
export interface Choice {
  label: string;
  text: string;
}

/** One question of a dataset, in the single shape every stage reads. */
export interface Example {
  /** Unique within its dataset, stable across runs (e.g. `last_letters/17`). */
  id: string;
  question: string;
  /** Gold answers; the first is canonical, the rest are accepted aliases. */
  answers: string[];
  answerType: AnswerType;
  context?: Paragraph[];
  choices?: Choice[];
  /** Dataset name, e.g. `last_letters`, `hotpotqa`. */
  dataset?: string;
  metadata?: Record<string, unknown>;
}

/** A rationale written by a teacher (or student) for one example. */
export interface RationaleRecord {
  exampleId: string;
  rationale: string;
  /** The answer the writer reached from this rationale. */
  answer: string;
  /** Whether `answer` matches the gold answer under the dataset's scorer. */
  correct: boolean;
  /** Prompting strategy, e.g. `zero-shot-cot`, `few-shot-cot`, `rationalization`, `crop`, `diverse`. */
  strategy: string;
  /** Model that wrote it, e.g. `text-davinci-002`. */
  model: string;
  metadata?: Record<string, unknown>;
}

import { Random } from '../random';
import { placeName, reasoningSteps, type ReasoningStep } from '../data/synthetic';
import type { Example, RationaleRecord } from '../data/types';

/** The kinds of mistake the offline teacher plants, with their relative weights. */
export interface MistakeMix {
  /** One step reaches a wrong intermediate result; the answer follows it (so it is wrong). */
  wrongStep: number;
  /** One step is left out; the answer follows the shortened reasoning. */
  skippedStep: number;
  /** A step is written twice (answer still right: a coherence problem). */
  repetition: number;
  /** A sentence unrelated to the question is inserted (answer still right: a relevance problem). */
  irrelevant: number;
}

export interface OfflineTeacherOptions {
  /** Share of rationales with a planted mistake. */
  errorRate: number;
  mistakes: MistakeMix;
  /** Rationales per question (diverse reasoning); each draws its own mistake. */
  samplesPerQuestion: number;
  seed: number;
}

type Mistake = keyof MistakeMix | 'none';

const IRRELEVANT = [
  'Names are often chosen by parents before a child is born.',
  'Coins have been used as money for thousands of years.',
  'Many towns are named after rivers.',
  'Letters of the alphabet were first used by traders.',
  'The weather was pleasant that day.',
];

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Task-specific wording of the steps and conclusion, and how a wrong step propagates. */
interface TaskWriter {
  step(step: ReasoningStep, index: number): string;
  conclusion(steps: ReasoningStep[], example: Example): { sentence: string; answer: string };
  corrupt(steps: ReasoningStep[], index: number, random: Random): ReasoningStep[];
}

const lastLetters: TaskWriter = {
  step: (s) => `The last letter of "${s.subject}" is "${s.value}".`,
  conclusion: (steps) => {
    const answer = steps.map((s) => s.value).join('');
    return { sentence: `Concatenating them gives "${answer}".`, answer };
  },
  corrupt: (steps, i, random) => steps.map((s, j) => (j !== i ? s
    : { ...s, value: random.pick([...LETTERS].filter((l) => l !== s.value)) })),
};

/** Coin states are recomputed after a corrupted step: the step misreads whether the person flips. */
const coinFlip: TaskWriter = {
  step: (s) => (s.acts ? `${s.subject} flips the coin, so the coin is now ${s.value} up.`
    : `${s.subject} does not flip the coin, so the coin stays ${s.value} up.`),
  conclusion: (steps) => {
    const side = steps.length ? steps[steps.length - 1].value : 'heads';
    return { sentence: `So the coin is ${side} up.`, answer: side === 'heads' ? 'yes' : 'no' };
  },
  corrupt: (steps, i) => {
    let heads = true;
    return steps.map((s, j) => {
      const acts = j === i ? !s.acts : s.acts;
      if (acts) heads = !heads;
      return { ...s, acts, value: heads ? 'heads' : 'tails' };
    });
  },
};

const MULTIHOP_FACTS = [
  (s: ReasoningStep) => `${s.subject} was born in ${s.value}.`,
  (s: ReasoningStep) => `${s.subject} is a town in the region of ${s.value}.`,
  (s: ReasoningStep) => `The region of ${s.subject} lies in the country of ${s.value}.`,
];

/** A wrong hop lands on an entity the context does not support; later hops continue from it. */
const multihop: TaskWriter = {
  step: (s, index) => MULTIHOP_FACTS[index](s),
  conclusion: (steps) => {
    const answer = steps[steps.length - 1].value;
    return { sentence: `So the answer is ${answer}.`, answer };
  },
  corrupt: (steps, i, random) => {
    const out = steps.slice(0, i);
    let subject = steps[i].subject;
    for (let j = i; j < steps.length; j++) {
      const value = placeName(random);
      out.push({ subject, value });
      subject = value;
    }
    return out;
  },
};

const WRITERS: Record<string, TaskWriter> = {
  'synthetic-last_letters': lastLetters,
  'synthetic-coin_flip': coinFlip,
  'synthetic-multihop': multihop,
};

function writerFor(example: Example): TaskWriter {
  const writer = WRITERS[example.dataset ?? ''];
  if (!writer) throw new Error(`the offline teacher writes rationales for generated tasks only, not "${example.dataset}" (${example.id})`);
  return writer;
}

const MISTAKES: (keyof MistakeMix)[] = ['wrongStep', 'skippedStep', 'repetition', 'irrelevant'];

function drawMistake(random: Random, options: OfflineTeacherOptions): Mistake {
  if (random.next() >= options.errorRate) return 'none';
  return MISTAKES[random.weighted(MISTAKES.map((m) => options.mistakes[m]))];
}

/** Write one rationale for `example` with the given planted mistake. */
function writeRationale(example: Example, mistake: Mistake, random: Random): { rationale: string; answer: string } {
  const writer = writerFor(example);
  let steps = reasoningSteps(example);
  let indices = steps.map((_, i) => i);
  if (mistake === 'wrongStep') steps = writer.corrupt(steps, random.int(steps.length), random);
  if (mistake === 'skippedStep' && steps.length > 1) {
    const skipped = random.int(steps.length);
    indices = indices.filter((i) => i !== skipped);
  }
  const kept = indices.map((i) => steps[i]);
  // A skipped step leaves the later ones as written, so the answer is read off what remains.
  const sentences = indices.map((i) => writer.step(steps[i], i));
  if (mistake === 'repetition') {
    const i = random.int(sentences.length);
    sentences.splice(i + 1, 0, sentences[i]);
  }
  if (mistake === 'irrelevant') sentences.splice(random.int(sentences.length + 1), 0, random.pick(IRRELEVANT));
  const { sentence, answer } = writer.conclusion(kept, example);
  return { rationale: [...sentences, sentence].join(' '), answer };
}

/**
 * An offline stand-in for a teacher LLM on the generated tasks: writes zero-shot-CoT-style rationales from each
 * example's correct steps, planting mistakes at `errorRate` in the given mix, so that filtering, distillation and
 * RL each have something to do. Deterministic for a seed.
 */
export function offlineTeacher(examples: Example[], options: OfflineTeacherOptions): RationaleRecord[] {
  const random = new Random(options.seed);
  const records: RationaleRecord[] = [];
  for (const example of examples) {
    for (let k = 0; k < options.samplesPerQuestion; k++) {
      const mistake = drawMistake(random, options);
      const { rationale, answer } = writeRationale(example, mistake, random);
      records.push({
        exampleId: example.id,
        rationale,
        answer,
        correct: example.answers.some((gold) => gold.toLowerCase() === answer.toLowerCase()),
        strategy: 'offline-cot',
        model: 'offline-teacher',
        metadata: { mistake },
      });
    }
  }
  return records;
}

import { parseAnswer } from '../data/answers';
import { questionWithChoices } from '../data/rationales';
import type { Example, Paragraph } from '../data/types';

/** Context paragraphs the way IRCoT prompts write them: `Wikipedia Title: <title>` then the text. */
export function formatParagraphs(paragraphs: readonly Paragraph[]): string {
  return paragraphs.map((p) => `Wikipedia Title: ${p.title}\n${p.text}`).join('\n\n');
}

/**
 * The question as zero-shot-CoT (Kojima et al., 2022) writes it: `Q: <question>`, choices appended as
 * `Answer Choices: (A) ... (B) ...`, and context paragraphs (if any) before it.
 */
export function formatQuestion(example: Example): string {
  const question = `Q: ${questionWithChoices(example)}`;
  return example.context?.length ? `${formatParagraphs(example.context)}\n\n${question}` : question;
}

/** Stage-2 answer trigger by answer type, as in zero-shot-CoT ("Therefore, the answer (arabic numerals) is"). */
export function answerTrigger(example: Example): string {
  switch (example.answerType) {
    case 'number':
      return 'Therefore, the answer (arabic numerals) is';
    case 'choice': {
      const labels = example.choices?.map((c) => c.label) ?? ['A', 'E'];
      return `Therefore, among ${labels[0]} through ${labels[labels.length - 1]}, the answer is`;
    }
    case 'yes-no':
      return 'Therefore, the answer (Yes or No) is';
    case 'text':
      return 'Therefore, the answer is';
  }
}

/** The gold answer as a hint for rationalization: a choice's label with its text, else the first answer. */
export function goldHint(example: Example): string {
  const gold = example.answers[0];
  const choice = example.choices?.find((c) => c.label === gold);
  return choice ? `(${choice.label}) ${choice.text}` : gold;
}

/** The answer in `text` read after `trigger` (first candidate there), by the example's answer type. */
export function readAnswer(text: string, example: Example, trigger: string | RegExp): string {
  return parseAnswer(text, example.answerType, { choices: example.choices, trigger });
}

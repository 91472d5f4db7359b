import type { Example, RationaleRecord } from '../data/types';
import { renderChatTemplate } from '../llm/chat-template';
import type { Tokenizer } from '../tokenizer/types';

/**
 * How a (question, rationale, answer) triple becomes training text:
 * - `fine-tune-cot` (Ho et al., 2023): `question ###` -> ` rationale --> answer<eos>`, one sequence;
 * - `mt-cot` (Li et al., 2022): two tasks, `[answer] question` -> `answer` and `[explain] question` ->
 *   `rationale --> answer`, losses weighted α and 1 − α;
 * - `mt-re` (Li et al., 2022): two tasks, `[answer] question` -> `answer` and `[explain] question` -> `rationale`.
 */
export type TargetFormat = 'fine-tune-cot' | 'mt-cot' | 'mt-re';

/** Separators of the Fine-tune-CoT format. */
export const QUESTION_END = ' ###';
export const ANSWER_START = ' -->';

/** One training sequence: a prompt, the target the loss is taken on, and the task's loss weight. */
export interface TrainingText {
  prompt: string;
  target: string;
  weight: number;
  /** The target ends with a chat template's end of turn ({@link chatTrainingText}): no EOS is appended. */
  endsTurn?: boolean;
}

/** The question as the student reads it: context paragraphs and choices folded in. */
export function questionText(example: Example): string {
  const parts: string[] = [];
  for (const p of example.context ?? []) parts.push(`${p.title}: ${p.text}`);
  parts.push(example.question);
  if (example.choices?.length) parts.push(`Answer choices: ${example.choices.map((c) => `(${c.label}) ${c.text}`).join(' ')}`);
  return parts.join('\n');
}

/** The prompt that asks the student for a rationale (the answer follows after {@link ANSWER_START}). */
export function rationalePrompt(example: Example, format: TargetFormat): string {
  return format === 'fine-tune-cot' ? `${questionText(example)}${QUESTION_END}` : `[explain] ${questionText(example)}`;
}

/** The prompt of the multi-task formats' answer task (`[answer] question -->`). */
export function answerTaskPrompt(example: Example): string {
  return `[answer] ${questionText(example)}${ANSWER_START}`;
}

/** The prompt a reader (judge) answers from: question, rationale, then the answer marker. */
export function answerPrompt(example: Example, rationale: string): string {
  return `${questionText(example)}${QUESTION_END} ${rationale.trim()}${ANSWER_START}`;
}

/** The training sequences one rationale record gives under `format` (`alpha` weighs the answer task). */
export function trainingTexts(example: Example, record: RationaleRecord, format: TargetFormat, alpha = 0.5): TrainingText[] {
  const question = questionText(example);
  const rationale = record.rationale.trim();
  const answer = example.answers[0];
  switch (format) {
    case 'fine-tune-cot':
      return [{ prompt: `${question}${QUESTION_END}`, target: ` ${rationale}${ANSWER_START} ${answer}`, weight: 1 }];
    case 'mt-cot':
      return [
        { prompt: answerTaskPrompt(example), target: ` ${answer}`, weight: alpha },
        { prompt: `[explain] ${question}`, target: ` ${rationale}${ANSWER_START} ${answer}`, weight: 1 - alpha },
      ];
    case 'mt-re':
      return [
        { prompt: answerTaskPrompt(example), target: ` ${answer}`, weight: alpha },
        { prompt: `[explain] ${question}`, target: ` ${rationale}`, weight: 1 - alpha },
      ];
    default:
      throw new Error(`unknown target format "${String(format)}" (known: fine-tune-cot, mt-cot, mt-re)`);
  }
}

/** The user turn of a prompt: without the format's end marker, whose place the chat template's assistant header takes. */
function userTurn(prompt: string): string {
  for (const marker of [QUESTION_END, ANSWER_START]) if (prompt.endsWith(marker)) return prompt.slice(0, -marker.length);
  return prompt;
}

/**
 * A student prompt as an instruct student reads it (`student.chatTemplate`): rendered by the tokenizer's chat
 * template as one user turn (the question; `[answer]` / `[explain]` task prefixes kept, the ` ###` / ` -->` marker
 * dropped) followed by the assistant header its reply continues.
 */
export function chatPrompt(prompt: string, tokenizer: Tokenizer): string {
  return renderChatTemplate([{ role: 'user', content: userTurn(prompt) }], tokenizer, true);
}

/**
 * A training text as one chat exchange in the tokenizer's chat template: the prompt is {@link chatPrompt}, the target
 * the assistant's reply (the target, trimmed) followed by the special token the template ends the turn with
 * (ChatML's `<|im_end|>`, Llama 3's `<|eot_id|>`), on which the loss is taken instead of an appended EOS; a template
 * that ends the turn without a special token gets the EOS.
 */
export function chatTrainingText(text: TrainingText, tokenizer: Tokenizer): TrainingText {
  const prompt = chatPrompt(text.prompt, tokenizer);
  const reply = text.target.trim();
  const exchange = renderChatTemplate([{ role: 'user', content: userTurn(text.prompt) }, { role: 'assistant', content: reply }], tokenizer, false);
  if (!exchange.startsWith(prompt + reply)) {
    throw new Error('chat template (tokenizer_config.json "chat_template"): a rendered user + assistant exchange is not the rendered prompt followed by the reply, so the reply cannot be told apart');
  }
  const [next] = tokenizer.encode(exchange.slice(prompt.length + reply.length));
  const special = next !== undefined && tokenizer.decode([next], { skipSpecial: true }) === '';
  return special ? { prompt, target: reply + tokenizer.decode([next]), weight: text.weight, endsTurn: true } : { prompt, target: reply, weight: text.weight };
}

/** Token ids of one training sequence and the loss weight of each token as a prediction target. */
export interface EncodedText {
  ids: number[];
  /** `targetMask[t]` weighs predicting `ids[t]` from `ids[..t-1]`: the task weight on target tokens and EOS, else 0. */
  targetMask: number[];
  /** True when the sequence was cut to `maxLength` (the prompt is cut from the left, the target kept). */
  truncated: boolean;
}

/**
 * Tokenize `BOS prompt target EOS` (BOS only when the tokenizer `addsBos`, Llama yes, Qwen2 and GPT-2 no, and the
 * prompt does not start with it already; no EOS after a target that `endsTurn`) so that the loss covers exactly the
 * target tokens and the EOS. A sequence longer than `maxLength` loses the start of its prompt (BOS kept); a target
 * that alone does not fit loses its end.
 */
export function encodeTrainingText(tokenizer: Tokenizer, text: TrainingText, maxLength: number): EncodedText {
  let prompt = tokenizer.encode(text.prompt);
  let target = [...tokenizer.encode(text.target), ...(text.endsTurn ? [] : [tokenizer.eosId])];
  const bos = tokenizer.addsBos && tokenizer.bosId !== undefined && prompt[0] !== tokenizer.bosId ? [tokenizer.bosId] : [];
  const room = maxLength - bos.length;
  const truncated = prompt.length + target.length > room;
  if (truncated) {
    target = target.slice(0, room);
    prompt = prompt.slice(prompt.length - (room - target.length));
  }
  const ids = [...bos, ...prompt, ...target];
  const promptLength = bos.length + prompt.length;
  const targetMask = ids.map((_, t) => (t >= promptLength ? text.weight : 0));
  return { ids, targetMask, truncated };
}

/** The answer after the last {@link ANSWER_START} in generated text (the whole text when there is none). */
export function answerFromGeneration(text: string): { rationale: string; answer: string } {
  const at = text.lastIndexOf(ANSWER_START.trim());
  if (at < 0) return { rationale: text.trim(), answer: '' };
  return { rationale: text.slice(0, at).trim(), answer: text.slice(at + ANSWER_START.trim().length).trim() };
}

import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '../tokenizer/types';
import type { ChatMessage } from './types';

const ROLE_NAMES: Record<ChatMessage['role'], string> = {
  system: 'System', developer: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool',
};

/**
 * The plain chat format used for local base models (which were never trained on a chat format):
 * each message as `Role: content`, separated by blank lines, ending with `Assistant:` for the reply.
 *
 *     System: Answer briefly.
 *
 *     User: What is 2 + 2?
 *
 *     Assistant:
 */
export function renderChat(messages: readonly ChatMessage[]): string {
  return [...messages.map((m) => `${ROLE_NAMES[m.role]}: ${m.content}`), 'Assistant:'].join('\n\n');
}

/** Stop sequences that end the assistant's turn under {@link renderChat}: the start of the next message. */
export const CHAT_STOPS = ['\n\nUser:', '\n\nSystem:', '\n\nAssistant:', '\n\nTool:'];

/** A chat rendered for a model: the prompt text and the stop strings that end the reply. */
export interface ChatPrompt {
  prompt: string;
  stops: string[];
}

const compiled = new Map<string, Template>();

/**
 * `messages` rendered by `tokenizer`'s chat template (tokenizer_config.json `chat_template`) with @huggingface/jinja,
 * as transformers' `apply_chat_template(messages, add_generation_prompt=..., tokenize=False)` does, with `bos_token`
 * / `eos_token` set. Throws when the tokenizer has no template, or naming the template when it fails to render.
 */
export function renderChatTemplate(messages: readonly ChatMessage[], tokenizer: Tokenizer, addGenerationPrompt: boolean): string {
  const source = tokenizer.chatTemplate;
  if (source === undefined) throw new Error('the tokenizer has no chat template (tokenizer_config.json "chat_template")');
  let template = compiled.get(source);
  try {
    if (!template) compiled.set(source, (template = new Template(source)));
    const tokenName = (id: number | undefined) => (id === undefined ? '' : tokenizer.decode([id]));
    return template.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenName(tokenizer.bosId),
      eos_token: tokenName(tokenizer.eosId),
    });
  } catch (error) {
    throw new Error(`chat template (tokenizer_config.json "chat_template"): ${(error as Error).message}`);
  }
}

/**
 * The prompt for `messages` in `tokenizer`'s own format: its chat template ({@link renderChatTemplate} with the
 * generation prompt), whose reply ends at the tokenizer's end-of-turn token (a stop id), so no stop strings; without
 * a template, {@link renderChat} and {@link CHAT_STOPS}.
 */
export function chatPromptFor(messages: readonly ChatMessage[], tokenizer: Tokenizer): ChatPrompt {
  if (tokenizer.chatTemplate === undefined) return { prompt: renderChat(messages), stops: CHAT_STOPS };
  return { prompt: renderChatTemplate(messages, tokenizer, true), stops: [] };
}

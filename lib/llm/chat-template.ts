import type { ChatMessage } from './types';

const ROLE_NAMES: Record<ChatMessage['role'], string> = {
  system: 'System', developer: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool',
};

/**
 * The plain chat template used for local base models (which were never trained on a chat format):
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

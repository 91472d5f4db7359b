// `Generation` is also the name of lib/model's generate() output; here it is exported as `LLMGeneration`.
export type {
  SamplingRequest, CompletionRequest, ChatMessage, ChatRequest, TokenLogprob, PromptTokenLogprob, CompletionResult, LLMClient, TextListener,
  Generation as LLMGeneration,
} from './types';
export * from './errors';
export * from './retry';
export * from './limiter';
export * from './cache';
export * from './accounting';
export * from './reliable';
export * from './openai-client';
export * from './chat-template';
export * from './batcher';
export * from './local-client';
export * from './server';

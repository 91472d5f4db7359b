/** Sampling settings shared by completion and chat requests. */
export interface SamplingRequest {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Number of samples for the same prompt. */
  n?: number;
  stop?: string[];
  /** Ask for per-token log-probabilities, with this many alternatives per position (0 = only the chosen token). */
  logprobs?: number;
  seed?: number;
  /**
   * A client that generates in process calls this with each choice's new text as it is decoded (the deltas join to
   * the choice's final text); other clients never call it. Not part of the request sent or cached.
   */
  onText?: TextListener;
}

/** Receives a choice's new text (`delta`) while it is generated; choices count from 0 within the request. */
export type TextListener = (choice: number, delta: string) => void;

export interface CompletionRequest extends SamplingRequest {
  /** Text, or token ids of the model's own tokenizer (used as given: no BOS is added). */
  prompt: string | number[];
  /** Also return the prompt's tokens (and, with `logprobs`, their log-probabilities) in `promptLogprobs`. */
  echo?: boolean;
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface ChatRequest extends SamplingRequest {
  messages: ChatMessage[];
}

/** Log-probability of one generated token, with the top alternatives where the server gives them. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top?: { token: string; logprob: number }[];
}

/** One prompt token when echoed: the first has no log-probability (nothing precedes it). */
export interface PromptTokenLogprob {
  token: string;
  logprob: number | null;
  top?: { token: string; logprob: number }[];
}

export interface Generation {
  text: string;
  /** `stop` (stop sequence or end of text) or `length` (hit maxTokens). */
  finishReason: string;
  logprobs?: TokenLogprob[];
}

export interface CompletionResult {
  model: string;
  choices: Generation[];
  usage: { promptTokens: number; completionTokens: number };
  /** With `echo`: the prompt's text and tokens, each scored by the model when `logprobs` was asked. */
  echo?: { text: string; tokens: PromptTokenLogprob[] };
  /** True when served from the disk cache without a call. */
  cached?: boolean;
}

/** Any LLM: a remote OpenAI-compatible endpoint or a local checkpoint in process. */
export interface LLMClient {
  readonly model: string;
  complete(request: CompletionRequest): Promise<CompletionResult>;
  chat(request: ChatRequest): Promise<CompletionResult>;
}

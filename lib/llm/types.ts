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
}

export interface CompletionRequest extends SamplingRequest {
  prompt: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
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
  /** True when served from the disk cache without a call. */
  cached?: boolean;
}

/** Any LLM: a remote OpenAI-compatible endpoint or a local checkpoint in process. */
export interface LLMClient {
  readonly model: string;
  complete(request: CompletionRequest): Promise<CompletionResult>;
  chat(request: ChatRequest): Promise<CompletionResult>;
}

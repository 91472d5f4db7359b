import { createOpenAIClient } from '../../llm/openai-client';
import type { ReliableLLMClient } from '../../llm/reliable';
import type { EndpointConfig } from '../schema';

/**
 * An OpenAI-compatible client for a config endpoint, behind the call layer with its disk cache in `cacheDir`.
 * The key is read from the environment variable the config names; a server on this machine needs none.
 */
export function endpointClient(endpoint: EndpointConfig, cacheDir: string, field: string): ReliableLLMClient {
  const baseURL = endpoint.baseURL ?? process.env.OPENAI_BASE_URL;
  const local = baseURL !== undefined && /^https?:\/\/(127\.|localhost|\[::1\])/.test(baseURL);
  const apiKey = process.env[endpoint.apiKeyEnv];
  if (!apiKey && !local) {
    throw new Error(`${field}: no API key: set the environment variable ${endpoint.apiKeyEnv} (named by ${field}.apiKeyEnv)`);
  }
  return createOpenAIClient({
    model: endpoint.model, baseURL, apiKey, timeoutMs: endpoint.timeoutSeconds * 1000,
    cacheDir, concurrency: endpoint.maxConcurrency, retry: { maxAttempts: endpoint.maxRetries + 1 },
  });
}

import { join } from 'node:path';
import { defaultDataDir } from '../lib/data/files';
import { defineExperiment } from '../lib/experiment/config';

/**
 * LM-guided CoT on HotpotQA (Lee et al., 2024): a large teacher writes few-shot CoT rationales from the IRCoT
 * demonstrations, a small student is distilled on them and refined with PPO, and a frozen large judge answers from
 * the student's rationale. Teacher and judge are OpenAI-compatible endpoints (OpenAI, vLLM, Ollama, llama.cpp, or
 * `rrl serve <checkpoint>` on this machine), set by environment variables:
 *   TEACHER_BASE_URL, TEACHER_MODEL, JUDGE_BASE_URL, JUDGE_MODEL; the key is read from OPENAI_API_KEY (a server on
 *   127.0.0.1 needs none; `endpoint.apiKeyEnv` names another variable).
 * Point `student` at a pretrained checkpoint folder (e.g. a converted SmolLM-135M) for real use; the default is a
 * small byte-level model so that the experiment runs anywhere.
 */
const env = (name: string, fallback: string) => process.env[name] ?? fallback;

export default defineExperiment({
  name: 'hotpotqa-lm-guided',
  description: 'LM-guided CoT on HotpotQA: few-shot CoT teacher, distilled + PPO student, frozen LLM judge.',
  seed: 0,
  data: { source: { kind: 'dataset', name: 'hotpotqa', dataDir: defaultDataDir() }, context: 'supporting', limit: 200 },
  teacher: {
    kind: 'llm',
    endpoint: { baseURL: env('TEACHER_BASE_URL', 'https://api.openai.com/v1'), model: env('TEACHER_MODEL', 'gpt-4o-mini'), maxConcurrency: 8 },
    strategy: 'few-shot-cot',
    demos: join(defaultDataDir(), 'hotpotqa', 'ircot_cot_demos.txt'),
    maxTokens: 160,
  },
  student: { arch: 'llama', dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 768, tokenizer: 'byte' },
  distill: { epochs: 6, batchSize: 8, learningRate: 1e-3, maxNewTokens: 160 },
  judge: { kind: 'llm', endpoint: { baseURL: env('JUDGE_BASE_URL', 'https://api.openai.com/v1'), model: env('JUDGE_MODEL', 'gpt-4o-mini'), api: 'completions' } },
  rewards: {
    weights: { 'answer-correctness': 1, relevance: 0.2, factuality: 0.3, coherence: 0.2, 'length-guard': 0.2 },
    options: { 'answer-correctness': { template: 'Answer the question using the reasoning.\n{question}\nReasoning: {rationale}\nAnswer:', maxTokens: 24 } },
  },
  rl: { iterations: 30, batchSize: 8, minibatchSize: 8, learningRate: 2e-5, maxNewTokens: 160 },
  eval: { limit: 100 },
});

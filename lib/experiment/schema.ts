import { z } from 'zod';
import { checkGroupSize, rlTrainerShape } from '../rl/config';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const probability = z.number().min(0).max(1);

/** An OpenAI-compatible endpoint; the key is read from an environment variable, never stored in the config. */
const endpointSchema = z.strictObject({
  /** Base URL, e.g. `http://127.0.0.1:8000/v1`; default `OPENAI_BASE_URL` or OpenAI's. */
  baseURL: z.string().url().optional(),
  model: z.string().min(1),
  /** Name of the environment variable holding the API key (default `OPENAI_API_KEY`). */
  apiKeyEnv: z.string().min(1).default('OPENAI_API_KEY'),
  maxConcurrency: positiveInt.default(4),
  maxRetries: nonNegativeInt.default(6),
  timeoutSeconds: z.number().positive().default(60),
  /** Use chat completions (default) or plain completions. */
  api: z.enum(['chat', 'completions']).default('chat'),
});

const syntheticTaskSchema = z.strictObject({
  kind: z.literal('synthetic'),
  /** Which generated task: last-letter concatenation, coin flip, or multi-hop questions over generated facts. */
  task: z.enum(['last_letters', 'coin_flip', 'multihop']),
  size: positiveInt.default(600),
  /** Words (last letters), flips (coin flip) or hops (multi-hop) per question. */
  steps: positiveInt.default(2),
});

const namedDatasetSchema = z.strictObject({
  kind: z.literal('dataset'),
  /** A dataset name known to `loadDataset` (e.g. `last_letters`, `coin_flip`, `multiarith`, `hotpotqa`). */
  name: z.string().min(1),
  /** Folder holding the datasets (default: `RRL_DATA_DIR`, else the package's own `data/` folder). */
  dataDir: z.string().optional(),
});

const fileDatasetSchema = z.strictObject({
  kind: z.literal('file'),
  path: z.string().min(1),
  /** Where each field is in the user's JSON/JSONL records (dotted paths allowed, e.g. `meta.gold.0`). */
  mapping: z.strictObject({
    question: z.string().min(1),
    answer: z.string().min(1),
    context: z.string().optional(),
    choices: z.string().optional(),
    id: z.string().optional(),
  }),
  /** Default: inferred from the answers (choice, yes-no, number, else text). */
  answerType: z.enum(['number', 'choice', 'yes-no', 'text']).optional(),
});

const dataSchema = z.strictObject({
  source: z.discriminatedUnion('kind', [syntheticTaskSchema, namedDatasetSchema, fileDatasetSchema]),
  testFraction: z.number().gt(0).lt(1).default(0.3),
  /** Context paragraphs the student and judge read (multi-hop QA): all of them, or only the supporting ones. */
  context: z.enum(['all', 'supporting']).default('all'),
  /** Use only the first N examples after shuffling (quick runs). */
  limit: positiveInt.optional(),
});

const strategySchema = z.enum(['zero-shot-cot', 'few-shot-cot', 'rationalization', 'cote', 'crop', 'diverse']);

const teacherSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('offline'),
    /** Share of rationales with a planted mistake. */
    errorRate: probability.default(0.3),
    /** Relative weights of the mistake kinds. */
    mistakes: z.strictObject({
      wrongStep: z.number().nonnegative().default(1),
      skippedStep: z.number().nonnegative().default(1),
      repetition: z.number().nonnegative().default(1),
      irrelevant: z.number().nonnegative().default(1),
    }).prefault({}),
    samplesPerQuestion: positiveInt.default(1),
  }),
  z.strictObject({
    kind: z.literal('recorded'),
    /** Recorded rationales: zero-shot-CoT JSONL or .log, Fine-tune-CoT completions, or JSONL (see `importRationales`). */
    path: z.string().min(1),
    /** Record style; `auto` tells them apart by content. */
    format: z.enum(['auto', 'zero-shot-cot', 'zero-shot-cot-log', 'fine-tune-cot', 'jsonl']).default('auto'),
  }),
  z.strictObject({
    kind: z.literal('llm'),
    endpoint: endpointSchema,
    strategy: strategySchema.default('zero-shot-cot'),
    /** Demonstrations file for few-shot CoT. */
    demos: z.string().optional(),
    samplesPerQuestion: positiveInt.default(1),
    temperature: z.number().min(0).max(2).default(0),
    maxTokens: positiveInt.default(256),
  }),
]);

/**
 * LoRA instead of full fine-tuning: only low-rank adapters on the chosen projections train (distillation and RL);
 * the base stays frozen and is RL's reference policy. Adapters are saved in PEFT's layout beside the weights.
 */
const loraSchema = z.strictObject({
  rank: positiveInt.default(16),
  /** The update is scaled by alpha / rank. */
  alpha: z.number().positive().default(32),
  dropout: z.number().min(0).lt(1).default(0.05),
  /**
   * Hugging Face module names, matched like PEFT's target_modules (GPT-2: c_attn, c_proj, c_fc; Llama/Qwen2:
   * q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj). Default PEFT's: c_attn for GPT-2, q_proj and
   * v_proj for Llama and Qwen2.
   */
  targetModules: z.array(z.string().min(1)).min(1).optional(),
});

/** Longest student sequence accepted (a 4 GB wasm heap holds 4 heads of 16k x 16k float32 scores, not 32k). */
const MAX_SEQ_LEN = 16_384;

const modelShapeSchema = z.strictObject({
  arch: z.enum(['gpt2', 'llama', 'qwen2']).default('gpt2'),
  dModel: positiveInt.default(128),
  nLayers: positiveInt.default(4),
  nHeads: positiveInt.default(4),
  nKvHeads: positiveInt.optional(),
  dFF: positiveInt.optional(),
  maxSeqLen: positiveInt.default(256),
  /**
   * `char`: one token per character; `word-char`: words found in at least 5% of the training texts are one token,
   * the rest (names, numbers) one per character, so rows are 1.6-2.6x shorter on templated rationales; `byte`.
   */
  tokenizer: z.enum(['char', 'word-char', 'byte']).default('char'),
  lora: loraSchema.optional(),
}).superRefine((shape, context) => {
  // checked here so a bad shape fails before any work, not in the distill stage
  const problem = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message });
  if (shape.dModel % shape.nHeads !== 0) problem('nHeads', `nHeads ${shape.nHeads} must divide dModel ${shape.dModel}`);
  if (shape.nKvHeads !== undefined && shape.nHeads % shape.nKvHeads !== 0) problem('nKvHeads', `nKvHeads ${shape.nKvHeads} must divide nHeads ${shape.nHeads}`);
  if (shape.maxSeqLen < 2) problem('maxSeqLen', `maxSeqLen ${shape.maxSeqLen} leaves no room for a prompt and a token: at least 2`);
  if (shape.maxSeqLen > MAX_SEQ_LEN) {
    // one [T, T] float32 attention-score matrix per head is the first thing that stops fitting the wasm heap
    const gigabytes = (shape.maxSeqLen ** 2 * 4 * shape.nHeads) / 2 ** 30;
    problem('maxSeqLen', `maxSeqLen ${shape.maxSeqLen} is over ${MAX_SEQ_LEN}: one row's attention scores alone would need ${gigabytes.toPrecision(3)} GB`);
  }
});

const studentSchema = z.union([
  /**
   * A checkpoint folder: this library's own or a Hugging Face one (config.json + safetensors + tokenizer.json);
   * `maxSeqLen` caps a Hugging Face model's context (default its config's). `chatTemplate`: an instruct student
   * reads its distillation, RL and evaluation prompts rendered by its tokenizer's chat template (user turn: the
   * question; assistant turn: the rationale and answer); it must have one.
   */
  z.strictObject({
    checkpoint: z.string().min(1), maxSeqLen: positiveInt.optional(), lora: loraSchema.optional(), chatTemplate: z.boolean().default(false),
  }),
  modelShapeSchema,
]);

const distillSchema = z.strictObject({
  /** Target format: Fine-tune-CoT (`Q ### rationale --> answer END`), MT-CoT, or MT-Re (two tasks, α-weighted). */
  format: z.enum(['fine-tune-cot', 'mt-cot', 'mt-re']).default('fine-tune-cot'),
  /** Keep only teacher-correct rationales (Fine-tune-CoT, COTE) or all. */
  filter: z.enum(['correct', 'all']).default('correct'),
  dedupe: z.boolean().default(true),
  /** MT-Re weight of the answer task against the explanation task. */
  alpha: probability.default(0.5),
  epochs: positiveInt.default(10),
  batchSize: positiveInt.default(16),
  gradAccumulation: positiveInt.default(1),
  learningRate: z.number().positive().default(1e-3),
  weightDecay: z.number().nonnegative().default(0.01),
  warmupSteps: nonNegativeInt.default(50),
  gradClip: z.number().positive().default(1),
  /** Evaluate on the test split every N epochs and keep the best checkpoint. */
  evalEvery: positiveInt.default(1),
  maxNewTokens: positiveInt.default(96),
});

/** How the judge is asked, the same in RL (answer-correctness), evaluation and `rrl eval`. */
export const judgeSettingsSchema = z.strictObject({
  /**
   * The judge's prompt with `{question}` and `{rationale}`; empty: the Fine-tune-CoT reader prompt
   * (`question ### rationale -->`), which a distilled student (or a frozen copy of it) answers directly.
   */
  template: z.string().default(''),
  /** Most tokens of the judge's answer (generation also stops at a newline). */
  maxTokens: positiveInt.default(24),
});

const judgeSchema = z.discriminatedUnion('kind', [
  /** A frozen copy of the distilled student reads question + rationale and writes the answer. */
  z.strictObject({ kind: z.literal('student-copy'), ...judgeSettingsSchema.shape }),
  z.strictObject({ kind: z.literal('checkpoint'), path: z.string().min(1), ...judgeSettingsSchema.shape }),
  z.strictObject({ kind: z.literal('llm'), endpoint: endpointSchema, ...judgeSettingsSchema.shape }),
]);

const rewardsSchema = z.strictObject({
  /** Reward module names with their weights in the composite. */
  weights: z.record(z.string(), z.number()).refine((w) => Object.keys(w).length > 0, 'name at least one reward'),
  /**
   * Instead of the weighted sum: a mathjs expression over the module names (`-` written `_`), each name standing
   * for weight · score (weight 1 when unweighted), e.g. `answer_correctness * (1 + coherence)`. Every weighted
   * module must appear in it.
   */
  expression: z.string().optional(),
  /** Files or folders with custom reward modules (`export default defineReward({...})`). */
  paths: z.array(z.string()).default([]),
  /** Options passed to each module by name. */
  options: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** A module that throws or times out: stop the run, or drop the sample from the update. */
  onError: z.enum(['fail', 'skip']).default('fail'),
  timeoutSeconds: z.number().positive().default(120),
});

/**
 * The questions RL samples rationales for. They need gold answers, not rationales: `train` (the train split),
 * `synthetic` (fresh questions from the synthetic data source's generator, another seed), or `file` (questions
 * from a JSON/JSONL file, read like `data.source` of kind `file`). Questions also in the test split are dropped.
 */
const rlPromptsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('train') }),
  z.strictObject({ kind: z.literal('synthetic'), size: positiveInt }),
  fileDatasetSchema,
]);

/** The RL stage: the trainer's settings (`lib/rl/config.ts`, defined there once) and the loop around it. */
const rlSchema = z.strictObject({
  ...rlTrainerShape,
  prompts: rlPromptsSchema.prefault({ kind: 'train' }),
  iterations: positiveInt.default(30),
  /** Prompts per iteration. */
  batchSize: positiveInt.default(16),
  /** Checkpoint every N iterations (resume point). */
  checkpointEvery: positiveInt.default(5),
}).superRefine(checkGroupSize);

const evalSchema = z.strictObject({
  /** Conditions compared: the judge answering without rationale, from the teacher's, the distilled and RL student's. */
  conditions: z.array(z.enum(['no-rationale', 'teacher', 'distilled', 'rl'])).default(['no-rationale', 'teacher', 'distilled', 'rl']),
  limit: positiveInt.optional(),
  /** Sample rationales shown side by side in the report. */
  samples: nonNegativeInt.default(8),
});

/** The whole experiment, validated. Every field but `name` and `data` has a default. */
export const experimentSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  description: z.string().optional(),
  seed: nonNegativeInt.default(0),
  /** Folder holding one run folder per experiment (`<output>/<name>`). */
  output: z.string().default('checkpoints'),
  data: dataSchema,
  teacher: teacherSchema.prefault({ kind: 'offline' }),
  student: studentSchema.prefault({}),
  distill: distillSchema.prefault({}),
  judge: judgeSchema.prefault({ kind: 'student-copy' }),
  rewards: rewardsSchema.prefault({ weights: { 'answer-correctness': 1 } }),
  rl: rlSchema.prefault({}),
  eval: evalSchema.prefault({}),
}).superRefine((config, context) => {
  if (config.rl.prompts.kind === 'synthetic' && config.data.source.kind !== 'synthetic') {
    context.addIssue({
      code: 'custom', path: ['rl', 'prompts', 'kind'],
      message: `"synthetic" prompts come from a synthetic data source's generator, but data.source.kind is "${config.data.source.kind}" (use "train" or "file")`,
    });
  }
});

/** An experiment as written by the user (defaults not yet filled in). */
export type ExperimentInput = z.input<typeof experimentSchema>;
/** An experiment after validation, with every default filled in. */
export type ExperimentConfig = z.output<typeof experimentSchema>;
export type EndpointConfig = z.output<typeof endpointSchema>;
/** How the judge is asked: prompt template and answer length. */
export type JudgeSettings = z.output<typeof judgeSettingsSchema>;

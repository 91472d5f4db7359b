import { scoreAnswer } from '../data/answers';
import type { Example, RationaleRecord } from '../data/types';
import type { LLMClient, SamplingRequest } from '../llm/types';
import { renderDemo, type CoTDemo } from './demos';
import { answerTrigger, formatQuestion, goldHint, readAnswer } from './prompts';

/** A way of getting rationales for one example out of a teacher LLM. */
export interface TeacherStrategy {
  /** Written into each record's `strategy`. */
  readonly name: string;
  run(client: LLMClient, example: Example): Promise<RationaleRecord[]>;
}

/** Settings shared by the strategies. */
export interface GenerationOptions {
  /** Send prompts to the completions endpoint (default) or as one user message to chat. */
  api?: 'completion' | 'chat';
  /** Longest rationale, in tokens (default 256). */
  maxTokens?: number;
  /** Sampling temperature of the rationale (default 0: greedy, as in zero-shot-CoT). */
  temperature?: number;
  /** Rationales per question (default 1). */
  samples?: number;
  seed?: number;
}

/** Rationales and answers end where the next question would start. */
const QUESTION_STOPS = ['\n\nQ:', '\nQ:'];

async function ask(client: LLMClient, prompt: string, sampling: SamplingRequest, api: GenerationOptions['api']): Promise<string[]> {
  const result = api === 'chat'
    ? await client.chat({ ...sampling, messages: [{ role: 'user', content: prompt }] })
    : await client.complete({ ...sampling, prompt });
  return result.choices.map((c) => c.text);
}

function record(example: Example, client: LLMClient, strategy: string, rationale: string, answer: string,
  metadata: Record<string, unknown>): RationaleRecord {
  const correct = scoreAnswer(answer, example) === 1;
  return { exampleId: example.id, rationale, answer, correct, strategy, model: client.model, metadata };
}

/**
 * Two-stage zero-shot CoT (Kojima et al., 2022): stage 1 prompts `Q: ... A: Let's think step by step.` for the
 * rationale; stage 2 appends the rationale and the answer trigger (e.g. "Therefore, the answer (arabic numerals)
 * is") and reads the answer greedily. With `hint`, the gold answer is given in the prompt (rationalization).
 */
async function twoStage(client: LLMClient, example: Example, options: GenerationOptions, strategy: string,
  hint?: string): Promise<RationaleRecord[]> {
  const question = formatQuestion(example) + (hint ? `\n(Hint: the answer is ${hint}.)` : '');
  const stage1 = `${question}\nA: Let's think step by step.`;
  const rationales = await ask(client, stage1, {
    maxTokens: options.maxTokens ?? 256, temperature: options.temperature ?? 0, n: options.samples ?? 1,
    stop: QUESTION_STOPS, seed: options.seed,
  }, options.api);
  const trigger = answerTrigger(example);
  return Promise.all(rationales.map(async (text, sample) => {
    const rationale = text.trim();
    const [answerText] = await ask(client, `${stage1} ${rationale}\n${trigger}`, {
      maxTokens: 32, temperature: 0, stop: QUESTION_STOPS,
    }, options.api);
    const answer = readAnswer(`${trigger}${answerText}`, example, trigger);
    return record(example, client, strategy, rationale, answer, { sample, answerText: answerText.trim(), trigger });
  }));
}

/** Zero-shot CoT in two stages; every rationale is kept, right or wrong (`correct` says which). */
export function zeroShotCoT(options: GenerationOptions = {}): TeacherStrategy {
  return { name: 'zero-shot-cot', run: (client, example) => twoStage(client, example, options, 'zero-shot-cot') };
}

/**
 * Rationalization prompting (RP; Li et al., 2022): the gold answer is given as a hint and the teacher explains
 * it step by step; the answer is then read as in zero-shot CoT (so a rationale that argues for another answer is
 * marked incorrect).
 */
export function rationalization(options: GenerationOptions = {}): TeacherStrategy {
  return {
    name: 'rationalization',
    run: (client, example) => twoStage(client, example, options, 'rationalization', goldHint(example)),
  };
}

/**
 * Few-shot CoT: the demonstrations (e.g. IRCoT's, from {@link loadCoTDemos}), then the example in the same form;
 * the teacher writes a rationale ending with "So the answer is: X.", read after "answer is".
 */
export function fewShotCoT(demos: readonly CoTDemo[], options: GenerationOptions = {}): TeacherStrategy {
  if (demos.length === 0) throw new Error('fewShotCoT: no demonstrations given');
  const preamble = demos.map(renderDemo).join('\n\n\n');
  return {
    name: 'few-shot-cot',
    run: async (client, example) => {
      const prompt = `${preamble}\n\n\n${formatQuestion(example)}\nA:`;
      const texts = await ask(client, prompt, {
        maxTokens: options.maxTokens ?? 256, temperature: options.temperature ?? 0, n: options.samples ?? 1,
        stop: ['\n\n', ...QUESTION_STOPS], seed: options.seed,
      }, options.api);
      return texts.map((text, sample) => {
        const rationale = text.trim();
        return record(example, client, 'few-shot-cot', rationale, readAnswer(rationale, example, /answer is:?/i), { sample });
      });
    },
  };
}

/** COTE (Li et al., 2022): a CoT strategy's rationales, keeping only those that reach the gold answer. */
export function cote(cot: TeacherStrategy = zeroShotCoT()): TeacherStrategy {
  return {
    name: 'cote',
    run: async (client, example) => (await cot.run(client, example))
      .filter((r) => r.correct)
      .map((r) => ({ ...r, strategy: 'cote', metadata: { ...r.metadata, source: cot.name } })),
  };
}

/**
 * CROP (Li et al., 2022): COTE's correct CoT rationales; where none reached the gold answer, rationalization's
 * (again only those that reach it).
 */
export function crop(cot: TeacherStrategy = zeroShotCoT(), fallback: TeacherStrategy = rationalization()): TeacherStrategy {
  return {
    name: 'crop',
    run: async (client, example) => {
      let records = (await cot.run(client, example)).filter((r) => r.correct);
      let source = cot.name;
      if (records.length === 0) {
        records = (await fallback.run(client, example)).filter((r) => r.correct);
        source = fallback.name;
      }
      return records.map((r) => ({ ...r, strategy: 'crop', metadata: { ...r.metadata, source } }));
    },
  };
}

/** Rationale text compared for duplicates: lowercase, whitespace collapsed. */
const dedupeKey = (rationale: string) => rationale.toLowerCase().replace(/\s+/g, ' ').trim();

/**
 * Diverse reasoning (Fine-tune-CoT; Ho et al., 2023): `samples` zero-shot-CoT rationales per question at
 * `temperature` (default 0.7), duplicates removed; right and wrong ones are kept (`correct` says which).
 */
export function diverse(options: GenerationOptions & { samples: number }): TeacherStrategy {
  const cot = zeroShotCoT({ temperature: 0.7, ...options });
  return {
    name: 'diverse',
    run: async (client, example) => {
      const seen = new Set<string>();
      return (await cot.run(client, example)).flatMap((r) => {
        const key = dedupeKey(r.rationale);
        if (seen.has(key)) return [];
        seen.add(key);
        return [{ ...r, strategy: 'diverse' }];
      });
    },
  };
}

/** The strategies by the names experiment configs use. */
export type StrategyName = 'zero-shot-cot' | 'few-shot-cot' | 'rationalization' | 'cote' | 'crop' | 'diverse';

/**
 * A strategy from its config name. COTE and CROP build on few-shot CoT when `demos` are given, else on zero-shot
 * CoT; `few-shot-cot` needs `demos`.
 */
export function strategyByName(name: StrategyName, options: GenerationOptions & { demos?: readonly CoTDemo[] } = {}): TeacherStrategy {
  const { demos, ...generation } = options;
  const cot = () => (demos?.length ? fewShotCoT(demos, generation) : zeroShotCoT(generation));
  switch (name) {
    case 'zero-shot-cot':
      return zeroShotCoT(generation);
    case 'few-shot-cot':
      if (!demos?.length) throw new Error('teacher strategy "few-shot-cot" needs demonstrations (a demos file)');
      return fewShotCoT(demos, generation);
    case 'rationalization':
      return rationalization(generation);
    case 'cote':
      return cote(cot());
    case 'crop':
      return crop(cot(), rationalization(generation));
    case 'diverse': // needs at least two samples, and a temperature above 0 to make them differ
      return diverse({ ...generation, samples: Math.max(generation.samples ?? 4, 2), temperature: generation.temperature || 0.7 });
    default:
      throw new Error(`unknown teacher strategy "${name as string}"; one of zero-shot-cot, few-shot-cot, rationalization, cote, crop, diverse`);
  }
}

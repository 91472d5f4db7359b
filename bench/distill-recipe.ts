/**
 * The distillation recipe of `bench:distill`, shared with `bench:rl` (one code path): keep the teacher's correct
 * rationales of the train split, add rows recombined from them (Last Letter, Coin Flip), build a word-char
 * tokenizer, train a small Llama-layout student from scratch in the Fine-tune-CoT format and score its greedy
 * rationale-then-answer on the test questions.
 */
import type { Example, RationaleRecord } from '../lib/data/types';
import { CausalLM, type Architecture, type ModelConfig } from '../lib/model';
import { CharTokenizer } from '../lib/tokenizer';
import type { Tokenizer } from '../lib/tokenizer/types';
import { WordCharTokenizer } from '../lib/tokenizer/word-char';
import type { StudentPrediction } from '../lib/eval/predict';
import { distill, encodeDistillSet, selectRecords } from '../lib/train/distill';
import { questionText } from '../lib/train/formats';
import { Trainer } from '../lib/train/trainer';
import { recombineCoinFlips } from './coin-steps';
import { recombineLetterSteps } from './letter-steps';

export type RecipeDataset = 'last_letters' | 'coin_flip' | 'multiarith';

/** Training settings of one dataset. */
export interface RecipeSettings {
  arch: Architecture;
  dModel: number;
  nLayers: number;
  nHeads: number;
  maxSeqLen: number;
  epochs: number;
  batchSize: number;
  peakLr: number;
  maxNewTokens: number;
  /** Extra rows, as a multiple of the kept records (0: none): recombined teacher steps (last letters, coin flip). */
  augment: number;
}

export const RECIPE_SETTINGS: Record<RecipeDataset, RecipeSettings> = {
  last_letters: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 256, epochs: 7, batchSize: 8, peakLr: 2.5e-3, maxNewTokens: 160, augment: 4 },
  coin_flip: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 384, epochs: 6, batchSize: 8, peakLr: 5e-3, maxNewTokens: 200, augment: 8 },
  multiarith: { arch: 'llama', dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 384, epochs: 6, batchSize: 8, peakLr: 5e-3, maxNewTokens: 200, augment: 0 },
};

/** A tiny model and one epoch, to check a pipeline end to end in seconds. */
export const QUICK_RECIPE: RecipeSettings = { arch: 'llama', dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 640, epochs: 1, batchSize: 8, peakLr: 3e-3, maxNewTokens: 8, augment: 1 };

/** A word recurring in at least this share of the training texts is one token (`word-char`). */
const WORD_MIN_SHARE = 0.05;

/** The distilled student and what its training saw. */
export interface RecipeResult {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** Greedy rationale and answer for each test question after the last epoch. */
  predictions: StudentPrediction[];
  /** Teacher-correct train records kept, and rows recombined from them. */
  trainRecords: number;
  augmentedRecords: number;
  /** Rows longer than the context (the start of their question cut). */
  truncated: number;
  trainSeconds: number;
  evalSeconds: number;
}

/** Progress of the training, reported about every 15 s. */
export type RecipeProgress = (line: string) => void;

/**
 * Distil a student with the recipe on `train` (the teacher's `records` of other splits are ignored) and evaluate it
 * on `test` after the last epoch. `seed` drives the recombined rows, the initialisation and the batch order.
 */
export async function distillWithRecipe(name: RecipeDataset, settings: RecipeSettings, data: { train: Example[]; test: Example[]; records: readonly RationaleRecord[] },
  options: { seed: number; tokenizer: 'char' | 'word-char'; progress?: RecipeProgress }): Promise<RecipeResult> {
  const { train, test } = data;
  const { records } = selectRecords(data.records, train, { filter: 'correct', dedupe: true });
  if (records.length === 0) throw new Error(`${name}: no teacher-correct rationale in the train split`);
  const count = Math.round(settings.augment * records.length);
  const extra = settings.augment === 0 ? { records: [], examples: [] }
    : name === 'last_letters' ? recombineLetterSteps(records, train, count, options.seed)
      : name === 'coin_flip' ? recombineCoinFlips(records, train, count, options.seed)
        : { records: [], examples: [] };
  const trainRecords = [...records, ...extra.records];
  const trainExamples = [...train, ...extra.examples];

  // The vocabulary: the training texts, and the characters of the test questions (inputs only, no answers).
  const byId = new Map(trainExamples.map((e) => [e.id, e]));
  const texts = records.map((r) => `${questionText(byId.get(r.exampleId)!)} ### ${r.rationale} --> ${byId.get(r.exampleId)!.answers[0]}`);
  const tokenizer: Tokenizer = options.tokenizer === 'char'
    ? CharTokenizer.fromTexts([...texts, ...test.map(questionText)])
    : new WordCharTokenizer([...new Set([...texts, ...test.map(questionText)].join(''))].sort(),
      WordCharTokenizer.fromTexts(texts, WORD_MIN_SHARE).words);
  const { rows, truncated } = encodeDistillSet(trainRecords, trainExamples, tokenizer,
    { format: 'fine-tune-cot', alpha: 0.5, maxLength: settings.maxSeqLen });
  const meanLength = rows.reduce((n, r) => n + r.ids.length, 0) / rows.length;
  options.progress?.(`${name}: ${rows.length} rows, mean ${meanLength.toFixed(0)} tokens, ${truncated} cut to ${settings.maxSeqLen}, vocabulary ${tokenizer.vocabSize}`);

  const config: ModelConfig = {
    arch: settings.arch, vocabSize: tokenizer.vocabSize, dModel: settings.dModel, nLayers: settings.nLayers,
    nHeads: settings.nHeads, maxSeqLen: settings.maxSeqLen,
  };
  const model = CausalLM.create(config, { seed: options.seed });
  const stepsPerEpoch = Math.ceil(rows.length / settings.batchSize);
  const trainer = new Trainer(model, {
    schedule: { peakLr: settings.peakLr, warmupSteps: Math.min(50, stepsPerEpoch), totalSteps: settings.epochs * stepsPerEpoch, minLr: settings.peakLr / 10 },
    weightDecay: 0.01,
  });
  let predictions: StudentPrediction[] = [];
  const started = Date.now();
  let trainEnded = started;
  let lastReport = 0;
  try {
    await distill(trainer, tokenizer, rows, test, {
      epochs: settings.epochs, batchSize: settings.batchSize, evalEvery: settings.epochs, maxNewTokens: settings.maxNewTokens,
      format: 'fine-tune-cot', seed: options.seed, checkpointEvery: Number.MAX_SAFE_INTEGER,
    }, {
      onStep: ({ step, totalSteps, epoch, loss }) => {
        if (step === totalSteps) trainEnded = Date.now();
        if (Date.now() - lastReport < 15_000 && step !== totalSteps) return;
        lastReport = Date.now();
        const seconds = (Date.now() - started) / 1000;
        options.progress?.(`${name}: step ${step}/${totalSteps} epoch ${epoch + 1} loss ${loss.toFixed(3)} `
          + `${seconds.toFixed(0)} s, ETA ${((seconds / step) * (totalSteps - step)).toFixed(0)} s`);
      },
      onEvaluate: (_record, epochPredictions) => {
        predictions = epochPredictions;
      },
    });
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    trainer.dispose();
  }
  return {
    model, tokenizer, predictions, trainRecords: records.length, augmentedRecords: extra.records.length, truncated,
    trainSeconds: (trainEnded - started) / 1000, evalSeconds: (Date.now() - trainEnded) / 1000,
  };
}

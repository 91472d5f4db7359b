import { existsSync } from 'node:fs';
import { readRationales } from '../../data/rationales';
import type { Example, RationaleRecord } from '../../data/types';
import { writeJsonl } from '../../data/jsonl';
import { logger } from '../../log/logger';
import { startProgress } from '../../log/progress';
import { CausalLM } from '../../model/causal-lm';
import { loadCheckpoint, saveCheckpoint } from '../../model/checkpoint';
import { ByteTokenizer } from '../../tokenizer/byte';
import { CharTokenizer } from '../../tokenizer/char';
import { WordCharTokenizer } from '../../tokenizer/word-char';
import type { Tokenizer } from '../../tokenizer/types';
import {
  distill, encodeDistillSet, initialDistillState, selectRecords, type DistillState,
} from '../../train/distill';
import { questionText } from '../../train/formats';
import { Trainer } from '../../train/trainer';
import { RunInterrupted, type StageContext, type StageResult } from '../runner';
import type { ExperimentConfig } from '../schema';
import { readSplit } from './data';
import { attachStudentLora, checkStudentMemory, studentChat } from './student';

/** Characters every format writes besides the data: separators, task prefixes, answer marker. */
const FORMAT_CHARACTERS = ' ###-->[answer][explain]\n';

/** A new student of the configured shape, or the configured checkpoint, with its tokenizer. */
async function createStudent(config: ExperimentConfig, train: Example[], records: RationaleRecord[]): Promise<{ model: CausalLM; tokenizer: Tokenizer }> {
  const student = config.student;
  if ('checkpoint' in student) {
    if (!existsSync(student.checkpoint)) throw new Error(`student.checkpoint: ${student.checkpoint} does not exist`);
    const { model, tokenizer } = await loadCheckpoint(student.checkpoint, { maxSeqLen: student.maxSeqLen, seed: config.seed });
    return { model, tokenizer };
  }
  const texts = [FORMAT_CHARACTERS, ...train.map(questionText), ...train.flatMap((e) => e.answers), ...records.map((r) => r.rationale)];
  const tokenizer = student.tokenizer === 'byte' ? new ByteTokenizer()
    : student.tokenizer === 'word-char' ? WordCharTokenizer.fromTexts(texts, 0.05) : CharTokenizer.fromTexts(texts);
  const { tokenizer: _kind, ...shape } = student;
  const model = CausalLM.create({ ...shape, vocabSize: tokenizer.vocabSize }, { seed: config.seed });
  return { model, tokenizer };
}

/**
 * The distillation stage: train the student on the teacher's (filtered) rationales of the train split, evaluating
 * on the test split each `evalEvery` epochs. Writes `distill/best` (the best checkpoint by test accuracy),
 * `distill/last` (the resume point, every `checkpointEvery` steps and each epoch) and the best epoch's predictions.
 */
export async function distillStage(context: StageContext): Promise<StageResult> {
  const { config, dir, metrics, signal } = context;
  const options = config.distill;
  const { train, test } = readSplit(context);
  const all = readRationales(context.outputsOf('teacher').rationales);
  const { records, stats } = selectRecords(all, train, options);
  if (records.length === 0) throw new Error(`distill: no teacher rationale left to train on (${JSON.stringify(stats)})`);

  const lastDir = `${dir}/last`;
  let model: CausalLM;
  let tokenizer: Tokenizer;
  let state: DistillState = initialDistillState();
  let optimizerState;
  if (context.resume && existsSync(lastDir)) {
    const loaded = await loadCheckpoint(lastDir);
    ({ model, tokenizer, optimizerState } = loaded);
    state = (loaded.extra?.distill as DistillState | undefined) ?? state;
    logger.info(`resuming at epoch ${state.epoch + 1}, step ${state.step}`, { stage: 'distill' });
  } else {
    ({ model, tokenizer } = await createStudent(config, train, records));
  }
  const chat = studentChat(config, tokenizer);
  const { rows, truncated } = encodeDistillSet(records, train, tokenizer,
    { format: options.format, alpha: options.alpha, maxLength: model.config.maxSeqLen, chat });
  if (truncated > 0) logger.warn(`${truncated} of ${rows.length} training rows were longer than ${model.config.maxSeqLen} tokens: the start of their question was cut`, { stage: 'distill' });
  const microBatch = Math.ceil(options.batchSize / options.gradAccumulation);
  checkStudentMemory('distill', config, model, { microBatch, seqLen: model.config.maxSeqLen, sampleBatch: options.batchSize, sampleLen: model.config.maxSeqLen });
  attachStudentLora(config, model);
  const stepsPerEpoch = Math.ceil(rows.length / options.batchSize);
  const trainer = new Trainer(model, {
    weightDecay: options.weightDecay, maxGradNorm: options.gradClip,
    microBatchSize: microBatch,
    schedule: { peakLr: options.learningRate, warmupSteps: options.warmupSteps, totalSteps: stepsPerEpoch * options.epochs, minLr: options.learningRate / 10 },
  });
  if (optimizerState) trainer.restore(optimizerState, lastDir);

  const progress = startProgress('distill', stepsPerEpoch * options.epochs);
  const started = Date.now();
  try {
    const result = await distill(trainer, tokenizer, rows, test, {
      epochs: options.epochs, batchSize: options.batchSize, evalEvery: options.evalEvery, maxNewTokens: options.maxNewTokens,
      format: options.format, chat, seed: config.seed, checkpointEvery: 50,
    }, {
      onStep: (s) => {
        progress.update(s.step, { epoch: s.epoch + 1, loss: s.loss });
        metrics.write({ stage: 'distill', step: s.step, loss: s.loss, gradNorm: s.gradNorm, lr: s.lr });
      },
      onEvaluate: (record, predictions) => {
        metrics.write({ stage: 'distill-eval', ...record });
        logger.info(`epoch ${record.epoch}: train loss ${record.trainLoss.toFixed(4)}, test accuracy ${(record.testAccuracy * 100).toFixed(1)}%`, { stage: 'distill' });
        writeJsonl(`${dir}/predictions-epoch${record.epoch}.jsonl`, predictions);
      },
      checkpoint: async (saved, kind) => {
        await saveCheckpoint(`${dir}/${kind}`, { model, tokenizer, optimizer: trainer.optimizer, extra: { distill: saved } });
      },
      shouldStop: () => signal.aborted,
    }, state);
    progress.stop();
    if (result.stopped) throw new RunInterrupted(`distillation stopped at step ${result.state.step}; checkpoint in ${lastDir}`);
    const best = result.state.best!;
    return {
      outputs: { best: 'distill/best', last: 'distill/last', predictions: `distill/predictions-epoch${best.epoch}.jsonl` },
      summary: {
        testAccuracy: best.testAccuracy, bestEpoch: best.epoch, steps: result.state.step, recordsKept: stats.kept,
        recordsIncorrect: stats.incorrect, params: model.numParams(), trainSeconds: Math.round((Date.now() - started) / 1000),
      },
    };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

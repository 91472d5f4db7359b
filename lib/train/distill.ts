/**
 * Knowledge distillation (Fine-tune-CoT, MT-CoT, MT-Re): select the teacher's rationales, turn them into
 * target-masked token rows, train the student on them epoch by epoch, and measure its accuracy on held-out
 * questions from its own greedy rationale and answer. Resumable at any step from a saved {@link DistillState}.
 */
import type { Example, RationaleRecord } from '../data/types';
import type { OptimizerState } from '../model/checkpoint';
import type { Student } from '../model/student';
import { Random } from '../random';
import { accuracy, predictWithStudent, type StudentPrediction } from '../eval/predict';
import type { Tokenizer } from '../tokenizer/types';
import { chatTrainingText, encodeTrainingText, trainingTexts, type EncodedText, type TargetFormat, type TrainingText } from './formats';
import type { AdamW } from './adamw';
import type { StepResult, TrainBatch } from './trainer';

/** Which teacher records to learn from. */
export interface RecordFilter {
  /** `correct`: only rationales whose answer matched gold (Fine-tune-CoT, COTE); `all`: every record. */
  filter: 'correct' | 'all';
  /** Drop a record whose rationale repeats one already kept for the same question. */
  dedupe: boolean;
}

/** How many records were kept and why the others were dropped. */
export interface SelectionStats {
  total: number;
  kept: number;
  incorrect: number;
  duplicate: number;
  /** Records whose example is not in the given split (e.g. test questions). */
  otherSplit: number;
}

/** The records to train on, from the examples of one split. Diverse-reasoning records (several per question) stay. */
export function selectRecords(
  records: readonly RationaleRecord[], examples: readonly Example[], options: RecordFilter,
): { records: RationaleRecord[]; stats: SelectionStats } {
  const ids = new Set(examples.map((e) => e.id));
  const seen = new Set<string>();
  const stats: SelectionStats = { total: records.length, kept: 0, incorrect: 0, duplicate: 0, otherSplit: 0 };
  const kept: RationaleRecord[] = [];
  for (const record of records) {
    if (!ids.has(record.exampleId)) stats.otherSplit++;
    else if (options.filter === 'correct' && !record.correct) stats.incorrect++;
    else if (options.dedupe && seen.has(`${record.exampleId}\u0000${record.rationale.trim()}`)) stats.duplicate++;
    else {
      seen.add(`${record.exampleId}\u0000${record.rationale.trim()}`);
      kept.push(record);
    }
  }
  stats.kept = kept.length;
  return { records: kept, stats };
}

/** Tokenizes one training text as a row, cut to `maxLength` (causal: {@link encodeTrainingText}; T5: encodeSeq2SeqText). */
export type RowEncoder<Row> = (tokenizer: Tokenizer, text: TrainingText, maxLength: number) => Row;

/**
 * Token rows for the selected records under `format` (with `chat`, each one exchange in the tokenizer's chat
 * template: {@link chatTrainingText}); `truncated` counts rows cut to `maxLength`. Rows are the causal layout
 * unless `encode` says otherwise (T5: encodeSeq2SeqText).
 */
export function encodeDistillSet<Row extends { truncated: boolean } = EncodedText>(
  records: readonly RationaleRecord[], examples: readonly Example[], tokenizer: Tokenizer,
  options: { format: TargetFormat; alpha: number; maxLength: number; chat?: boolean },
  encode: RowEncoder<Row> = encodeTrainingText as unknown as RowEncoder<Row>,
): { rows: Row[]; truncated: number } {
  const byId = new Map(examples.map((e) => [e.id, e]));
  const rows = records.flatMap((record) => {
    const example = byId.get(record.exampleId);
    if (!example) throw new Error(`rationale record for "${record.exampleId}" has no example`);
    return trainingTexts(example, record, options.format, options.alpha)
      .map((text) => encode(tokenizer, options.chat ? chatTrainingText(text, tokenizer) : text, options.maxLength));
  });
  return { rows, truncated: rows.filter((r) => r.truncated).length };
}

/**
 * What {@link distill} trains with: the causal Trainer on {@link EncodedText} rows, or the Seq2SeqTrainer on
 * source -> target pairs; `stepRows` pads a list of its rows into one batch and makes one update.
 */
export interface DistillTrainer<Row> {
  readonly model: Student;
  readonly optimizer: AdamW;
  stepRows(rows: Row[], padId: number): Promise<StepResult>;
  restore(state: OptimizerState, where?: string): void;
  dispose(): void;
}

/** Right-pad rows to the longest one; padding is masked out of attention and loss. */
export function padBatch(rows: readonly EncodedText[], padId: number): TrainBatch {
  const width = Math.max(...rows.map((r) => r.ids.length));
  const pad = <T>(values: T[], fill: T) => [...values, ...Array<T>(width - values.length).fill(fill)];
  return {
    ids: rows.map((r) => pad(r.ids, padId)),
    targetMask: rows.map((r) => pad(r.targetMask, 0)),
    attentionMask: rows.map((r) => pad(r.ids.map(() => 1), 0)),
  };
}

/** Settings of {@link distill}. */
export interface DistillOptions {
  epochs: number;
  batchSize: number;
  /** Evaluate every N epochs (and after the last). */
  evalEvery: number;
  maxNewTokens: number;
  format: TargetFormat;
  /** Prompts rendered by the student's chat template (an instruct student, `student.chatTemplate`). */
  chat?: boolean;
  seed: number;
  /** Save a resume point every N steps (besides each epoch's end). */
  checkpointEvery: number;
}

/** One evaluation during distillation. */
export interface EpochRecord {
  epoch: number;
  step: number;
  trainLoss: number;
  testAccuracy: number;
}

/** Where a distillation run is: enough to continue it exactly. */
export interface DistillState {
  /** Epoch in progress (0-based) and batches of it done. */
  epoch: number;
  batchInEpoch: number;
  step: number;
  /** Sum and count of the losses of the epoch in progress. */
  epochLoss: number;
  epochBatches: number;
  history: EpochRecord[];
  best?: { epoch: number; testAccuracy: number };
}

export const initialDistillState = (): DistillState =>
  ({ epoch: 0, batchInEpoch: 0, step: 0, epochLoss: 0, epochBatches: 0, history: [] });

/** Callbacks a caller hooks into the loop: progress, metrics, checkpoints, and a stop request. */
export interface DistillHooks {
  onStep?(info: { step: number; totalSteps: number; epoch: number; loss: number; gradNorm: number; lr: number }): void;
  onEvaluate?(record: EpochRecord, predictions: StudentPrediction[]): void;
  /** Save a resume point (`kind` = `last`) or the best model so far (`best`). */
  checkpoint?(state: DistillState, kind: 'last' | 'best'): Promise<void>;
  /** Checked between steps: when it returns true the loop saves a resume point and returns early. */
  shouldStop?(): boolean;
}

/** The batch order of an epoch: a shuffle seeded by (seed, epoch), so a resumed run sees the same order. */
export function epochOrder(rowCount: number, seed: number, epoch: number): number[] {
  return new Random(seed * 1_000_003 + epoch).shuffle(Array.from({ length: rowCount }, (_, i) => i));
}

/**
 * Train the student on `rows` for `options.epochs`, evaluating on `test` every `evalEvery` epochs. Returns the final
 * state and whether it stopped early (on `shouldStop`). Continue a run by passing the state it returned or saved.
 */
export async function distill<Row>(
  trainer: DistillTrainer<Row>, tokenizer: Tokenizer, rows: readonly Row[], test: readonly Example[],
  options: DistillOptions, hooks: DistillHooks = {}, state: DistillState = initialDistillState(),
): Promise<{ state: DistillState; stopped: boolean }> {
  const batchesPerEpoch = Math.ceil(rows.length / options.batchSize);
  const totalSteps = batchesPerEpoch * options.epochs;
  for (; state.epoch < options.epochs; state.epoch++) {
    const order = epochOrder(rows.length, options.seed, state.epoch);
    for (; state.batchInEpoch < batchesPerEpoch; state.batchInEpoch++) {
      if (hooks.shouldStop?.()) {
        await hooks.checkpoint?.(state, 'last');
        return { state, stopped: true };
      }
      const start = state.batchInEpoch * options.batchSize;
      const result = await trainer.stepRows(order.slice(start, start + options.batchSize).map((i) => rows[i]), tokenizer.padId);
      if (!Number.isFinite(result.loss) || !Number.isFinite(result.gradNorm)) {
        throw new Error(`distillation step ${state.step}: loss ${result.loss}, gradient norm ${result.gradNorm} `
          + '(not finite); the last good checkpoint is kept');
      }
      state.step++;
      state.epochLoss += result.loss;
      state.epochBatches++;
      hooks.onStep?.({ step: state.step, totalSteps, epoch: state.epoch, ...result });
      if (state.step % options.checkpointEvery === 0 && state.batchInEpoch + 1 < batchesPerEpoch) {
        await hooks.checkpoint?.({ ...state, batchInEpoch: state.batchInEpoch + 1 }, 'last');
      }
    }
    const finished = state.epoch + 1;
    if (finished % options.evalEvery === 0 || finished === options.epochs) {
      const predictions = await predictWithStudent(trainer.model, tokenizer, test, options);
      const record = { epoch: finished, step: state.step, trainLoss: state.epochLoss / Math.max(state.epochBatches, 1), testAccuracy: accuracy(predictions) };
      state.history.push(record);
      hooks.onEvaluate?.(record, predictions);
      if (!state.best || record.testAccuracy > state.best.testAccuracy) {
        state.best = { epoch: finished, testAccuracy: record.testAccuracy };
        await hooks.checkpoint?.({ ...state, epoch: finished, batchInEpoch: 0 }, 'best');
      }
    }
    Object.assign(state, { batchInEpoch: 0, epochLoss: 0, epochBatches: 0 });
    await hooks.checkpoint?.({ ...state, epoch: finished }, 'last');
  }
  return { state, stopped: false };
}

/** The one place distillation picks a student family's trainer and row layout. */
import type { Student } from '../model/student';
import { T5Model } from '../model/t5';
import type { DistillTrainer, RowEncoder } from './distill';
import { encodeTrainingText, type EncodedText } from './formats';
import { encodeSeq2SeqText, Seq2SeqTrainer, type Seq2SeqExample } from './seq2seq';
import { Trainer, type TrainerOptions } from './trainer';

/** A training row of either student family: a causal token row, or a T5 source -> target pair. */
export type TrainingRow = EncodedText | Seq2SeqExample;

/** The distillation trainer of a student's family: Seq2SeqTrainer for T5, Trainer for decoder-only models. */
export function studentTrainer(model: Student, options: TrainerOptions): DistillTrainer<TrainingRow> {
  return model instanceof T5Model ? new Seq2SeqTrainer(model, options) : new Trainer(model, options);
}

/** How a student's family tokenizes a training text: `prompt` -> `target` pairs for T5, one row for decoder-only models. */
export function rowEncoder(model: Student): RowEncoder<TrainingRow> {
  return model instanceof T5Model ? encodeSeq2SeqText : encodeTrainingText;
}

import { defineExperiment } from '../lib/experiment/config';
import defaultExperiment from './default';

/**
 * The offline default with a T5 student (the Fine-tune-CoT tables' best small students are T5 / Flan-T5): the same
 * task, teacher, rewards, judge (a frozen copy of the distilled T5) and GRPO settings, the student an encoder-decoder
 * of the v1.1 / Flan-T5 layout trained from scratch, reading the question as its source and writing the rationale
 * and answer as its target.
 */
export default defineExperiment({
  ...defaultExperiment,
  name: 't5-default',
  description: 'Offline default with a T5 student (v1.1 layout, 2 + 2 blocks): last-letter concatenation, offline teacher with 30% mistakes, distil, then RL (GRPO) against a frozen judge.',
  student: { arch: 't5', dModel: 64, dFF: 128, nLayers: 2, nDecoderLayers: 2, nHeads: 4, maxSeqLen: 192, tokenizer: 'word-char' },
});

import { CausalLM, saveCheckpoint } from '../../../lib/model';
import { CharTokenizer } from '../../../lib/tokenizer';

/** Write a random-initialised tiny GPT-2 with a character tokenizer to `dir` (the real load/generate path). */
export async function writeTinyCheckpoint(dir: string, seed = 1): Promise<void> {
  const tokenizer = CharTokenizer.fromTexts([
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;?!\'"()+-=\n',
  ]);
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 256 }, { seed });
  await saveCheckpoint(dir, { model, tokenizer });
  model.dispose();
}

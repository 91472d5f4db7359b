import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { generate } from '../../lib/model/sampling';
import { CharTokenizer } from '../../lib/tokenizer/char';

test('a long prompt in the batch does not cut the other rows short: each row is bounded by its own length', async () => {
  await initBackend();
  const tokenizer = CharTokenizer.fromTexts(['abcdefghij ']);
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 40 }, { seed: 2 });
  const long = 'abcdefghij'.repeat(3); // 30 tokens + BOS: 9 positions left
  const short = 'ab';
  const options = { maxNewTokens: 20, greedy: true, addBos: true };
  const [alone] = await generate(model, tokenizer, [short], options);
  const [longOut, shortOut] = await generate(model, tokenizer, [long, short], options);
  expect(shortOut.tokenIds).toEqual(alone.tokenIds);
  expect(shortOut.tokenIds.length).toBe(alone.tokenIds.length);
  // The long row stops when it reaches maxSeqLen: BOS + 30 prompt tokens + 9 new = 40.
  if (longOut.finishReason === 'length') expect(longOut.tokenIds).toHaveLength(9);
  else expect(longOut.tokenIds.length).toBeLessThanOrEqual(9);
  model.dispose();
});

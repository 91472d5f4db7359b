/**
 * A T5 reader: decoding continued after a forced decoder prefix (t5Generate's decoderPrefixes) against
 * teacher-forced log-probs, and the local client's split of a judge prompt into source and prefix
 * (decoderPrefixAfter), as the `student-copy` judge of a T5 student reads `question ### rationale -->`.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { T5Model } from '../../lib/model/t5';
import { t5Generate } from '../../lib/model/t5-generate';
import { t5TargetLogProbs } from '../../lib/model/t5-logprobs';
import { CharTokenizer } from '../../lib/tokenizer/char';

const tokenizer = CharTokenizer.fromTexts(['abcdefgh xyz?#->']);
let model: T5Model;
beforeAll(async () => {
  await initBackend('wasm');
  model = T5Model.create({ arch: 't5', vocabSize: tokenizer.vocabSize, dModel: 16, dKv: 6, nHeads: 2, dFF: 24, nLayers: 1, nDecoderLayers: 2, relativeBuckets: 8, relativeMaxDistance: 12, maxSeqLen: 24 }, { seed: 7 });
});
afterAll(() => model.dispose());

test('decoding after forced prefixes of different lengths continues each row as teacher forcing scores it, as if alone', async () => {
  const sources = ['abc ###', 'xyz ###', 'h ###'];
  const prefixes = [tokenizer.encode('gf -->'), [], tokenizer.encode('a')];
  const options = { maxNewTokens: 5, greedy: true, returnLogprobs: true, decoderPrefixes: prefixes };
  const batched = await t5Generate(model, tokenizer, sources, options);
  const before = tf.memory().numTensors;
  for (let r = 0; r < sources.length; r++) {
    const generated = batched[r].tokenIds;
    expect(generated.length).toBeGreaterThan(0);
    expect(generated.length).toBeLessThanOrEqual(5); // the budget counts sampled tokens only
    const alone = await t5Generate(model, tokenizer, [sources[r]], { ...options, decoderPrefixes: [prefixes[r]] });
    expect(alone[0].tokenIds).toEqual(generated);
    const uncached = await t5Generate(model, tokenizer, [sources[r]], { ...options, decoderPrefixes: [prefixes[r]], useCache: false });
    expect(uncached[0].tokenIds).toEqual(generated);
    const source = tokenizer.encode(sources[r], { addEos: true });
    const forced = tf.tidy(() => t5TargetLogProbs(model, tf.tensor2d([source], undefined, 'int32'), tf.ones([1, source.length], 'int32') as tf.Tensor2D,
      tf.tensor2d([[...prefixes[r], ...generated]], undefined, 'int32')).arraySync()[0]);
    generated.forEach((_, t) => expect(batched[r].logprobs![t]).toBeCloseTo(forced[prefixes[r].length + t], 4));
  }
  expect(tf.memory().numTensors).toBe(before);
});

test('with decoderPrefixAfter the client reads a judge prompt as source (up to the marker) and forced prefix (the rest)', async () => {
  const client = new LocalLLMClient(model, tokenizer, { decoderPrefixAfter: ' ###' });
  const sampling = { maxNewTokens: 6, temperature: 1, seed: 7 };
  const { choices } = await client.complete({ prompt: 'abc ### gf -->', maxTokens: 6, temperature: 1, seed: 7 });
  const [expected] = await t5Generate(model, tokenizer, ['abc ###'], { ...sampling, decoderPrefixes: [tokenizer.encode('gf -->')] });
  expect(expected.text.length).toBeGreaterThan(0);
  expect(choices[0].text).toBe(expected.text);
  const [unsplit] = await t5Generate(model, tokenizer, ['abc ### gf -->'], sampling);
  expect(unsplit.text).not.toBe(expected.text); // the split matters for this model
  // without the marker the whole prompt is the source
  const plain = await client.complete({ prompt: 'abc gf', maxTokens: 6, temperature: 1, seed: 7 });
  const [whole] = await t5Generate(model, tokenizer, ['abc gf'], sampling);
  expect(plain.choices[0].text).toBe(whole.text);
});

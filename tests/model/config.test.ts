import { validateModelConfig } from '../../lib/model/config';

const base = { arch: 'llama', vocabSize: 100, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 64 };

test('defaults are filled in per architecture', () => {
  expect(validateModelConfig(base)).toEqual({ ...base, nKvHeads: 4, dFF: 96, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false });
  expect(validateModelConfig({ ...base, arch: 'gpt2' })).toMatchObject({ dFF: 128, tieEmbeddings: true });
});

test.each([
  [{ ...base, arch: 'rwkv' }, 'cfg.json: field "arch" is "rwkv"; known architectures: gpt2, llama, qwen2'],
  [{ ...base, dModel: 30 }, 'cfg.json: field "nHeads" (4) must divide field "dModel" (30)'],
  [{ ...base, nKvHeads: 3 }, 'cfg.json: field "nKvHeads" (3) must divide field "nHeads" (4)'],
  [{ ...base, arch: 'gpt2', nKvHeads: 2 }, 'cfg.json: field "nKvHeads" (2) must equal "nHeads" (4) for arch gpt2'],
  [{ ...base, dModel: 12 }, 'cfg.json: head size dModel / nHeads = 3 must be even for rotary embeddings (arch llama)'],
  [{ ...base, vocabSize: 0 }, 'cfg.json: field "vocabSize" must be a positive integer, got 0'],
  [{ ...base, maxSeqLen: '64' }, 'cfg.json: field "maxSeqLen" must be a positive integer, got "64"'],
  [{ ...base, nHead: 4 }, 'cfg.json: unknown field "nHead"'],
])('bad config %# is refused with one clear error', (config, message) => {
  expect(() => validateModelConfig(config, 'cfg.json')).toThrow(message);
});

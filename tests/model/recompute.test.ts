import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import type { ModelConfig } from '../../lib/model/config';
import { scoreNextTokens, sequenceLogProbs } from '../../lib/model/logprobs';
import { LoraAdapter } from '../../lib/model/lora';
import { trackTensorBytes } from '../../lib/model/memory';
import { Trainer } from '../../lib/train/trainer';
import { TINY, directionalDerivative, maxAbsDiff, tokenRows } from './tiny';

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

const CONFIGS: Record<'gpt2' | 'llama' | 'qwen2', ModelConfig> = {
  gpt2: TINY.gpt2,
  llama: TINY.llama,
  qwen2: { ...TINY.llama, arch: 'qwen2', tieEmbeddings: true }, // q/k/v biases, tied head
};

const ids = () => tf.tensor2d(tokenRows(2, 9, 23, 11), undefined, 'int32');
const attentionMask = () => tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1, 1]], undefined, 'int32');

/**
 * A loss reading every output the stages use: masked next-token log-probs, entropy (at temperature 0.7) and the
 * value head on the hidden state.
 */
function stageLoss(model: CausalLM, tokens: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { logprobs, entropy, hidden } = scoreNextTokens(model, tokens, { attentionMask: mask, temperature: 0.7, entropy: true });
    const weights = tf.cast(tf.slice(mask, [0, 1], [-1, -1]), 'float32');
    const values = tf.mul(model.value(hidden), tf.cast(mask, 'float32'));
    return tf.addN([tf.neg(tf.sum(tf.mul(logprobs, weights))), tf.mul(0.2, tf.sum(tf.mul(entropy!, weights))), tf.mul(0.3, tf.sum(tf.square(values)))]) as tf.Scalar;
  });
}

/** The loss and the gradients (by variable name) of `stageLoss` over `variables`. */
function lossAndGrads(model: CausalLM, variables: tf.Variable[]): { loss: number; grads: Map<string, Float32Array> } {
  const tokens = ids();
  const mask = attentionMask();
  const { value, grads } = tf.variableGrads(() => stageLoss(model, tokens, mask), variables);
  const out = new Map(variables.map((v) => [v.name, grads[v.name].dataSync() as Float32Array]));
  const loss = value.dataSync()[0];
  tf.dispose([tokens, mask, value, ...Object.values(grads)]);
  return { loss, grads: out };
}

/** Largest |a - b| over every gradient, relative to the largest |a| of that gradient. */
function worstRelative(a: Map<string, Float32Array>, b: Map<string, Float32Array>, names: [string, string][]): number {
  let worst = 0;
  for (const [x, y] of names) {
    const ga = a.get(x)!;
    const gb = b.get(y)!;
    expect(gb.length).toBe(ga.length);
    const scale = Math.max(...ga.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    for (let i = 0; i < ga.length; i++) worst = Math.max(worst, Math.abs(ga[i] - gb[i]) / scale);
  }
  return worst;
}

describe.each(['gpt2', 'llama', 'qwen2'] as const)('%s: recomputed blocks and chunked log-probs', (arch) => {
  /** Two models with the same weights (larger than the init so that every path carries gradient). */
  function twins(config: ModelConfig): [CausalLM, CausalLM] {
    const make = () => {
      const model = CausalLM.create(config, { seed: 5 });
      for (const v of Object.values(model.weights)) if (v.rank === 2) tf.tidy(() => v.assign(tf.mul(v, 4)));
      return model;
    };
    return [make(), make()];
  }

  test('full fine-tuning: loss and every gradient equal the plain path', () => {
    const [plain, saving] = twins(CONFIGS[arch]);
    saving.gradientCheckpointing = true;
    saving.logitChunkRows = 5; // 16 predicted rows: chunks of 5, 5, 5, 1
    const all = (m: CausalLM) => [...Object.values(m.weights), ...Object.values(m.valueHeadWeights)];
    const expected = lossAndGrads(plain, all(plain));
    const got = lossAndGrads(saving, all(saving));
    expect(Math.abs(got.loss - expected.loss)).toBeLessThan(1e-5 * Math.abs(expected.loss));
    const pairs = all(plain).map((v, i) => [v.name, all(saving)[i].name] as [string, string]);
    expect(pairs.length).toBe(Object.keys(plain.weights).length + 2);
    expect(worstRelative(expected.grads, got.grads, pairs)).toBeLessThan(1e-5);
    plain.dispose();
    saving.dispose();
  });

  test('LoRA with dropout: the recomputation draws the same dropout masks, gradients equal the plain path', () => {
    const [plain, saving] = twins(CONFIGS[arch]);
    const targets = arch === 'gpt2' ? ['c_attn', 'c_proj', 'c_fc'] : ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj'];
    const adapters = [plain, saving].map((m) => {
      const adapter = LoraAdapter.attach(m, { rank: 2, alpha: 4, dropout: 0.3, targetModules: targets }, { seed: 3 });
      for (const [name, v] of Object.entries(adapter.weights)) if (name.endsWith('lora_b')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 7)));
      adapter.training = true;
      return adapter;
    });
    saving.gradientCheckpointing = true;
    saving.logitChunkRows = 4;
    const expected = lossAndGrads(plain, Object.values(adapters[0].weights));
    const got = lossAndGrads(saving, Object.values(adapters[1].weights));
    expect(Math.abs(got.loss - expected.loss)).toBeLessThan(1e-5 * Math.abs(expected.loss));
    const pairs = Object.keys(adapters[0].weights).map((n) => [adapters[0].weights[n].name, adapters[1].weights[n].name] as [string, string]);
    expect(worstRelative(expected.grads, got.grads, pairs)).toBeLessThan(1e-5);
    // the generator ends where the plain pass left it: later draws are the same too
    expect(adapters[1].randomState).toBe(adapters[0].randomState);
    // a recomputation that drew fresh masks would differ: dropout changes the gradients
    const other = lossAndGrads(plain, Object.values(adapters[0].weights));
    expect(worstRelative(expected.grads, other.grads, pairs.map(([a]) => [a, a]))).toBeGreaterThan(1e-2);
    plain.dispose();
    saving.dispose();
  });
});

describe('chunked log-probs', () => {
  test('values equal the unchunked ones and the gradient matches finite differences', () => {
    const model = CausalLM.create({ ...CONFIGS.qwen2, nLayers: 1 }, { seed: 8 });
    for (const v of Object.values(model.weights)) if (v.rank === 2) tf.tidy(() => v.assign(tf.mul(v, 6)));
    const tokens = ids();
    const plain = tf.tidy(() => sequenceLogProbs(model, tokens));
    model.logitChunkRows = 3;
    const chunked = tf.tidy(() => sequenceLogProbs(model, tokens));
    expect(chunked.shape).toEqual([2, 8]);
    expect(maxAbsDiff(chunked, plain)).toBeLessThan(1e-6);
    // the tied embedding gets its gradient through the gather and through every chunk of the head
    const mask = attentionMask();
    const loss = () => stageLoss(model, tokens, mask);
    const embedding = model.weights.tok_emb;
    const { grads } = tf.variableGrads(loss, [embedding]);
    const g = grads[embedding.name];
    const norm = Math.sqrt(tf.sum(tf.square(g)).dataSync()[0]);
    expect(norm).toBeGreaterThan(1e-2);
    const direction = tf.div(g, norm);
    const numeric = directionalDerivative(loss, embedding, direction);
    if (!(Math.abs(numeric - norm) <= 2e-3 + 1e-2 * norm)) throw new Error(`tok_emb: finite difference ${numeric} vs analytic ${norm}`);
    tf.dispose([tokens, mask, plain, chunked, g, direction]);
    model.dispose();
  });
});

describe('memory of a training step', () => {
  const config: ModelConfig = { arch: 'llama', vocabSize: 2000, dModel: 64, nLayers: 6, nHeads: 4, nKvHeads: 2, dFF: 128, maxSeqLen: 64 };
  const batch = { ids: tokenRows(2, 64, 2000, 3), targetMask: Array.from({ length: 2 }, () => Array(64).fill(1)) };

  /** The tensor bytes a LoRA training step adds at its peak, its loss, and the tensors it leaves behind. */
  async function stepPeak(checkpointing: boolean, chunkRows: number): Promise<{ peak: number; losses: number[]; leaked: number }> {
    const model = CausalLM.create(config, { seed: 4 });
    LoraAdapter.attach(model, { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'] }, { seed: 1 });
    model.gradientCheckpointing = checkpointing;
    model.logitChunkRows = chunkRows;
    const trainer = new Trainer(model, { schedule: { peakLr: 1e-2, warmupSteps: 0, totalSteps: 10 } });
    const losses = [(await trainer.step(batch)).loss];
    const tensors = tf.memory().numTensors;
    const tracker = trackTensorBytes(tf.backend());
    losses.push((await trainer.step(batch)).loss);
    const peak = tracker.peak - tracker.current;
    tracker.stop();
    losses.push((await trainer.step(batch)).loss);
    const leaked = tf.memory().numTensors - tensors;
    trainer.dispose();
    model.dispose();
    return { peak, losses, leaked };
  }

  test('recomputed blocks and chunked logits lower the peak, train the same, and leak no tensor', async () => {
    const plain = await stepPeak(false, 0);
    const saving = await stepPeak(true, 16);
    expect(plain.leaked).toBe(0);
    expect(saving.leaked).toBe(0);
    // the same three updates (dropout masks included)
    for (let i = 0; i < 3; i++) expect(Math.abs(saving.losses[i] - plain.losses[i])).toBeLessThan(1e-5);
    expect(saving.losses[2]).toBeLessThan(saving.losses[0]);
    // 6 blocks' activations -> one block's plus 6 inputs; 126 x 2000 logits -> 16 x 2000 at a time
    expect(saving.peak).toBeLessThan(0.5 * plain.peak);
  });
});

import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { CausalLM } from '../../lib/model/causal-lm';
import { maskedCrossEntropy } from '../../lib/train/loss';
import { TINY, directionalDerivative, tokenRows } from './tiny';

beforeAll(async () => {
  await initBackend('wasm'); // RRL_BACKEND=cpu runs the same tests on the cpu backend
});

function expectNear(what: string, finiteDifference: number, analytic: number, tolerance: number): void {
  if (!(Math.abs(finiteDifference - analytic) <= tolerance)) {
    throw new Error(`${what}: finite difference ${finiteDifference} vs analytic ${analytic} (tolerance ${tolerance})`);
  }
}

/**
 * Finite differences in float32: steps of 1e-2 keep rounding noise (~1e-7 relative in the loss, so ~1e-5 in a
 * difference quotient) well below the gradients checked, and extrapolation removes most truncation error.
 * A transposed or mis-indexed gradient moves the largest entries to other places, which these checks catch.
 */
describe.each(['gpt2', 'llama', 'qwen2'] as const)('%s: analytic gradients match finite differences', (arch) => {
  test('every weight tensor, directional and largest entries', () => {
    const config = arch === 'qwen2' ? { ...TINY.llama, arch } : TINY[arch]; // qwen2: llama + q/k/v biases, tied head
    const model = CausalLM.create({ ...config, nLayers: 1 }, { seed: 5 });
    // larger weights than the init so every path carries gradient
    for (const v of Object.values(model.weights)) if (v.rank === 2) tf.tidy(() => v.assign(tf.mul(v, 6)));
    const ids = tf.tensor2d(tokenRows(2, 7, 23, 3), undefined, 'int32');
    const attentionMask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]], undefined, 'int32');
    const targetMask = tf.tensor2d([[0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]);
    const all = { ...model.weights, ...model.valueHeadWeights };
    const loss = () =>
      tf.tidy(() => {
        const { logits, hidden } = model.forward(ids, { attentionMask });
        const ce = maskedCrossEntropy(tf.slice(logits, [0, 0, 0], [2, 6, -1]), tf.slice(ids, [0, 1], [2, 6]), targetMask);
        // a value-head term over real tokens only (outputs at left padding see no key and carry no meaning)
        const values = tf.mul(model.value(hidden), tf.cast(attentionMask, 'float32'));
        return tf.add(ce, tf.mul(0.3, tf.sum(tf.square(values)))) as tf.Scalar;
      });
    const { grads } = tf.variableGrads(loss, Object.values(all));
    const lossAt = (v: tf.Variable, direction: tf.Tensor): number => directionalDerivative(loss, v, direction);
    let checked = 0;
    for (const [name, v] of Object.entries(all)) {
      const g = grads[v.name];
      const values = g.dataSync() as Float32Array;
      const norm = Math.sqrt(values.reduce((s, x) => s + x * x, 0));
      // every weight takes part, except the key bias: q . b_k is the same for every key, and softmax ignores it
      if (!name.endsWith('attn.bk')) expect(norm).toBeGreaterThan(1e-3);
      // direction of the analytic gradient: the derivative along it is its norm
      const unit = tf.div(g, norm);
      expectNear(`${name} along its gradient`, lossAt(v, unit), norm, Math.max(2e-4, 0.01 * norm));
      unit.dispose();
      // the three largest entries one by one
      const largest = Array.from(values.keys()).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a])).slice(0, 3);
      for (const index of largest) {
        const unitVector = new Float32Array(values.length);
        unitVector[index] = 1;
        const basis = tf.tensor(unitVector, v.shape);
        const fd = lossAt(v, basis);
        expectNear(`${name}[${index}]`, fd, values[index], Math.max(3e-4, 0.02 * Math.abs(values[index])));
        basis.dispose();
        checked++;
      }
    }
    expect(checked).toBe(Object.values(all).reduce((n, v) => n + Math.min(3, v.size), 0));
    tf.dispose([ids, attentionMask, targetMask, ...Object.values(grads)]);
    model.dispose();
  });
});

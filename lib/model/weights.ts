/**
 * The native parameter names and shapes of a {@link ResolvedModelConfig}, and their seeded initialisation.
 * Matrices are stored [in, out] so every linear map is `x @ W`.
 */
import { Random } from '../random';
import { LAYOUTS, type ResolvedModelConfig } from './config';

/** Native parameter name -> shape, in a fixed order (embeddings, then layer by layer, then the head). */
export function weightShapes(config: ResolvedModelConfig): Map<string, number[]> {
  const { arch, vocabSize: V, dModel: d, nLayers, nHeads, nKvHeads, dFF, maxSeqLen, tieEmbeddings } = config;
  const layout = LAYOUTS[arch];
  const kvWidth = (d / nHeads) * nKvHeads;
  const shapes = new Map<string, number[]>();
  shapes.set('tok_emb', [V, d]);
  if (layout.positions === 'learned') shapes.set('pos_emb', [maxSeqLen, d]);
  const shifted = layout.norm === 'layer';
  const qkvBias = layout.biases !== 'none';
  for (let i = 0; i < nLayers; i++) {
    const p = `layers.${i}.`;
    const norm = (name: string) => {
      shapes.set(`${p}${name}.g`, [d]);
      if (shifted) shapes.set(`${p}${name}.b`, [d]);
    };
    const dense = (name: string, bias: string, shape: [number, number], biased = layout.biases === 'all') => {
      shapes.set(`${p}${name}`, shape);
      if (biased) shapes.set(`${p}${bias}`, [shape[1]]);
    };
    norm('ln1');
    dense('attn.wq', 'attn.bq', [d, d], qkvBias);
    dense('attn.wk', 'attn.bk', [d, kvWidth], qkvBias);
    dense('attn.wv', 'attn.bv', [d, kvWidth], qkvBias);
    dense('attn.wo', 'attn.bo', [d, d]);
    norm('ln2');
    if (layout.mlp === 'gelu') {
      dense('mlp.w_in', 'mlp.b_in', [d, dFF]);
    } else {
      shapes.set(`${p}mlp.w_gate`, [d, dFF]);
      shapes.set(`${p}mlp.w_up`, [d, dFF]);
    }
    dense('mlp.w_out', 'mlp.b_out', [dFF, d]);
  }
  shapes.set('ln_f.g', [d]);
  if (shifted) shapes.set('ln_f.b', [d]);
  if (!tieEmbeddings) shapes.set('lm_head', [d, V]);
  return shapes;
}

/** Value head parameter name -> shape: a linear map from the last hidden state to one number. */
export function valueHeadShapes(config: Pick<ResolvedModelConfig, 'dModel'>): Map<string, number[]> {
  return new Map([
    ['value_head.w', [config.dModel, 1]],
    ['value_head.b', [1]],
  ]);
}

/** A standard normal draw (Box–Muller). */
export function gaussian(random: Random): number {
  const u = 1 - random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/**
 * GPT-2 initialisation: norm gains 1, biases 0, matrices and embeddings N(0, 0.02), the projections that write
 * into the residual stream (attn.wo, mlp.w_out) N(0, 0.02 / sqrt(2 * nLayers)). Drawn from one seeded generator
 * in name order, so a seed gives the same weights on every backend. Yields one array at a time, so a caller that
 * uploads each before taking the next never holds a second copy of the model on the host.
 */
export function* initialWeights(shapes: Map<string, number[]>, nLayers: number, seed: number): Generator<[string, Float32Array]> {
  const random = new Random(seed);
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('.g')) {
      data.fill(1);
    } else if (shape.length > 1) {
      const residual = name.endsWith('attn.wo') || name.endsWith('mlp.w_out');
      const std = residual ? 0.02 / Math.sqrt(2 * nLayers) : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = std * gaussian(random);
    }
    yield [name, data];
  }
}

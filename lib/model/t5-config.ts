/**
 * The shape of a T5 encoder-decoder (Raffel et al., 2020). Two layouts are covered by two fields:
 * - T5 v1.0 (t5-small, t5-base): `feedForward: 'relu'`, `tieEmbeddings: true` (the decoder output is scaled by
 *   dModel^-0.5 before the shared embedding projects it to logits);
 * - T5 v1.1 and Flan-T5: `feedForward: 'gated-gelu'` (gelu_new(x W_0) * (x W_1)), `tieEmbeddings: false` (a
 *   separate `lm_head`, no scaling).
 */

/** Feed-forward of a T5 block: `relu` (v1.0) or `gated-gelu` (v1.1, Flan-T5; GELU in its tanh form). */
export type T5FeedForward = 'relu' | 'gated-gelu';

/** A T5 model's shape. Optional fields take the defaults of {@link validateT5Config}. */
export interface T5Config {
  arch: 't5';
  vocabSize: number;
  dModel: number;
  /** Size of one attention head (HF `d_kv`; default dModel / nHeads). T5 v1.1 small has 6 heads of 64 on d 512. */
  dKv?: number;
  /** Hidden width of the feed-forward (HF `d_ff`; default 4 * dModel). */
  dFF?: number;
  /** Encoder blocks (HF `num_layers`). */
  nLayers: number;
  /** Decoder blocks (HF `num_decoder_layers`; default nLayers). */
  nDecoderLayers?: number;
  nHeads: number;
  /** Relative position buckets (HF `relative_attention_num_buckets`; default 32). */
  relativeBuckets?: number;
  /** Distance at and beyond which relative positions share the last bucket (default 128). */
  relativeMaxDistance?: number;
  /** Longest source and longest target (in tokens) the model accepts; T5 itself has no bound. */
  maxSeqLen: number;
  /** Epsilon of T5's RMS norm (default 1e-6). */
  normEps?: number;
  /** Default `gated-gelu` (v1.1 / Flan-T5). */
  feedForward?: T5FeedForward;
  /** Share the embedding with the output projection, scaled by dModel^-0.5 (v1.0; default false). */
  tieEmbeddings?: boolean;
  /** The first decoder input (HF `decoder_start_token_id`; default 0, T5's pad id). */
  decoderStartId?: number;
}

/** A {@link T5Config} with every optional field filled in. */
export type ResolvedT5Config = Required<T5Config>;

const FIELDS = [
  'arch', 'vocabSize', 'dModel', 'dKv', 'dFF', 'nLayers', 'nDecoderLayers', 'nHeads', 'relativeBuckets',
  'relativeMaxDistance', 'maxSeqLen', 'normEps', 'feedForward', 'tieEmbeddings', 'decoderStartId',
];

function integer(raw: Record<string, unknown>, field: string, where: string, fallback?: number, minimum = 1): number {
  const value = raw[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new Error(`${where}: field "${field}" must be an integer >= ${minimum}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks a T5 config and fills in defaults; throws one Error naming the bad field. */
export function validateT5Config(config: unknown, where = 'model config'): ResolvedT5Config {
  if (typeof config !== 'object' || config === null) throw new Error(`${where}: expected an object, got ${JSON.stringify(config)}`);
  const raw = config as Record<string, unknown>;
  if (raw.arch !== 't5') throw new Error(`${where}: field "arch" is ${JSON.stringify(raw.arch)}; expected "t5"`);
  const unknown = Object.keys(raw).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw new Error(`${where}: unknown field "${unknown}"`);
  const dModel = integer(raw, 'dModel', where);
  const nHeads = integer(raw, 'nHeads', where);
  const nLayers = integer(raw, 'nLayers', where);
  if (raw.dKv === undefined && dModel % nHeads !== 0) {
    throw new Error(`${where}: field "nHeads" (${nHeads}) must divide field "dModel" (${dModel}) unless "dKv" is given`);
  }
  const relativeBuckets = integer(raw, 'relativeBuckets', where, 32, 2);
  if (relativeBuckets % 2 !== 0) throw new Error(`${where}: field "relativeBuckets" must be even (half of them per direction in the encoder)`);
  const relativeMaxDistance = integer(raw, 'relativeMaxDistance', where, 128);
  // the log-spaced buckets start at buckets / 4 (encoder) and need a larger max distance
  if (relativeMaxDistance <= relativeBuckets / 2) {
    throw new Error(`${where}: field "relativeMaxDistance" (${relativeMaxDistance}) must exceed relativeBuckets / 2 (${relativeBuckets / 2})`);
  }
  const normEps = raw.normEps ?? 1e-6;
  if (typeof normEps !== 'number' || !(normEps > 0)) throw new Error(`${where}: field "normEps" must be a positive number`);
  const feedForward = raw.feedForward ?? 'gated-gelu';
  if (feedForward !== 'relu' && feedForward !== 'gated-gelu') {
    throw new Error(`${where}: field "feedForward" is ${JSON.stringify(feedForward)}; expected "relu" or "gated-gelu"`);
  }
  const tieEmbeddings = raw.tieEmbeddings ?? false;
  if (typeof tieEmbeddings !== 'boolean') throw new Error(`${where}: field "tieEmbeddings" must be true or false`);
  const vocabSize = integer(raw, 'vocabSize', where);
  const decoderStartId = integer(raw, 'decoderStartId', where, 0, 0);
  if (decoderStartId >= vocabSize) throw new Error(`${where}: field "decoderStartId" (${decoderStartId}) must be below vocabSize (${vocabSize})`);
  return {
    arch: 't5',
    vocabSize,
    dModel,
    dKv: integer(raw, 'dKv', where, dModel / nHeads),
    dFF: integer(raw, 'dFF', where, 4 * dModel),
    nLayers,
    nDecoderLayers: integer(raw, 'nDecoderLayers', where, nLayers),
    nHeads,
    relativeBuckets,
    relativeMaxDistance,
    maxSeqLen: integer(raw, 'maxSeqLen', where),
    normEps,
    feedForward,
    tieEmbeddings,
    decoderStartId,
  };
}

/** Native parameter name -> shape for a T5 model, in a fixed order. Matrices are [in, out] (`x @ W`). */
export function t5WeightShapes(config: ResolvedT5Config): Map<string, number[]> {
  const { vocabSize: V, dModel: d, dKv, nHeads, dFF, relativeBuckets } = config;
  const inner = nHeads * dKv;
  const shapes = new Map<string, number[]>();
  shapes.set('shared', [V, d]);
  const attention = (p: string) => {
    for (const m of ['wq', 'wk', 'wv']) shapes.set(`${p}.${m}`, [d, inner]);
    shapes.set(`${p}.wo`, [inner, d]);
  };
  const feedForward = (p: string) => {
    if (config.feedForward === 'relu') shapes.set(`${p}.w_in`, [d, dFF]);
    else (shapes.set(`${p}.w_gate`, [d, dFF]), shapes.set(`${p}.w_up`, [d, dFF]));
    shapes.set(`${p}.w_out`, [dFF, d]);
  };
  for (const stack of ['encoder', 'decoder'] as const) {
    shapes.set(`${stack}.rel_bias`, [relativeBuckets, nHeads]);
    const layers = stack === 'encoder' ? config.nLayers : config.nDecoderLayers;
    for (let i = 0; i < layers; i++) {
      const p = `${stack}.layers.${i}`;
      shapes.set(`${p}.ln_self.g`, [d]);
      attention(`${p}.self`);
      if (stack === 'decoder') {
        shapes.set(`${p}.ln_cross.g`, [d]);
        attention(`${p}.cross`);
      }
      shapes.set(`${p}.ln_ff.g`, [d]);
      feedForward(`${p}.ff`);
    }
    shapes.set(`${stack}.ln_f.g`, [d]);
  }
  if (!config.tieEmbeddings) shapes.set('lm_head', [d, V]);
  return shapes;
}

/**
 * LoRA (Hu et al., 2021): a frozen projection y = x W (+ b) learns a low-rank update,
 * y = x W (+ b) + (alpha / r) * dropout(x) A^T B^T, with A [r, in] and B [out, r] (PEFT's layout: the rows of
 * `lora_A.weight` and `lora_B.weight`), B starting at zero so training starts from the base model. Only A and B
 * are trained; the base weights stay as they are, so the model without its adapter is the base model itself
 * (RL's reference policy, one copy of the weights). Adapters are saved and read in PEFT's layout
 * (adapter_config.json + adapter_model.safetensors) and merged into the base weights for export.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeJsonAtomic } from '../fs';
import { Random } from '../random';
import type { ProjectionAdapter, WeightArrays } from './causal-lm';
import type { ResolvedModelConfig } from './config';
import { readSafetensors, writeSafetensors } from './safetensors';
import type { Student, StudentModel } from './student';
import type { ResolvedT5Config } from './t5-config';

/** Adapter settings (the `student.lora` config section). */
export interface LoraConfig {
  /** Rank r of the update. */
  rank: number;
  /** The update is scaled by alpha / r. */
  alpha: number;
  /** Dropout on the adapter's input while training (0: none). */
  dropout: number;
  /**
   * Modules to adapt by their Hugging Face names, matched like PEFT's `target_modules`: a name equal to a
   * module's path or to its last parts (`c_proj` adapts GPT-2's attn.c_proj and mlp.c_proj). GPT-2: c_attn
   * (q, k and v in one), attn.c_proj, c_fc, mlp.c_proj; Llama/Qwen2: q_proj, k_proj, v_proj, o_proj, gate_proj,
   * up_proj, down_proj; T5: q, k, v, o (self- and cross-attention; SelfAttention.q or EncDecAttention.q for one),
   * wi (v1.0) or wi_0 and wi_1 (v1.1), wo.
   */
  targetModules: string[];
}

/** One adaptable projection of a model: its Hugging Face module path, the forward hook name, the weights it updates. */
interface Site {
  /** The module's HF path, e.g. `model.layers.0.self_attn.q_proj`, `encoder.block.0.layer.0.SelfAttention.q`. */
  path: string;
  /** The hook the forward pass calls (a native weight name, or `layers.<i>.attn.qkv` for GPT-2's fused c_attn). */
  hook: string;
  /** The native weights it updates when merged, with their column widths (c_attn: wq, wk, wv). */
  native: string[];
  inWidth: number;
  outWidths: number[];
}

/** Every projection of a decoder-only layout that LoRA can adapt, layer by layer. */
function causalSites(config: ResolvedModelConfig): Site[] {
  const { dModel: d, dFF: ff } = config;
  const kv = (d / config.nHeads) * config.nKvHeads;
  const sites: Site[] = [];
  for (let layer = 0; layer < config.nLayers; layer++) {
    const n = `layers.${layer}.`;
    const site = (hf: string, hook: string, native: string[], inWidth: number, outWidths: number[]) =>
      sites.push({ path: `${config.arch === 'gpt2' ? `transformer.h.${layer}.` : `model.layers.${layer}.`}${hf}`, hook: n + hook, native: native.map((w) => n + w), inWidth, outWidths });
    if (config.arch === 'gpt2') {
      site('attn.c_attn', 'attn.qkv', ['attn.wq', 'attn.wk', 'attn.wv'], d, [d, d, d]);
      site('attn.c_proj', 'attn.wo', ['attn.wo'], d, [d]);
      site('mlp.c_fc', 'mlp.w_in', ['mlp.w_in'], d, [ff]);
      site('mlp.c_proj', 'mlp.w_out', ['mlp.w_out'], ff, [d]);
      continue;
    }
    const one = (hf: string, native: string, inWidth: number, out: number) => site(hf, native, [native], inWidth, [out]);
    one('self_attn.q_proj', 'attn.wq', d, d); one('self_attn.k_proj', 'attn.wk', d, kv); one('self_attn.v_proj', 'attn.wv', d, kv);
    one('self_attn.o_proj', 'attn.wo', d, d); one('mlp.gate_proj', 'mlp.w_gate', d, ff); one('mlp.up_proj', 'mlp.w_up', d, ff);
    one('mlp.down_proj', 'mlp.w_out', ff, d);
  }
  return sites;
}

/**
 * Every projection of a T5 model that LoRA can adapt, by HF path: per block `layer.0.SelfAttention.{q,k,v,o}`,
 * in the decoder `layer.1.EncDecAttention.{q,k,v,o}`, and the feed-forward's `DenseReluDense.{wi | wi_0, wi_1, wo}`.
 */
function t5Sites(config: ResolvedT5Config): Site[] {
  const { dModel: d, dFF: ff } = config;
  const inner = config.nHeads * config.dKv;
  const sites: Site[] = [];
  const one = (path: string, native: string, inWidth: number, out: number) => sites.push({ path, hook: native, native: [native], inWidth, outWidths: [out] });
  for (const stack of ['encoder', 'decoder'] as const) {
    const layers = stack === 'encoder' ? config.nLayers : config.nDecoderLayers;
    for (let i = 0; i < layers; i++) {
      const h = `${stack}.block.${i}.layer.`;
      const n = `${stack}.layers.${i}.`;
      const attention = (hf: string, native: string) => {
        for (const [m, w] of [['q', 'wq'], ['k', 'wk'], ['v', 'wv']]) one(`${h}${hf}.${m}`, `${n}${native}.${w}`, d, inner);
        one(`${h}${hf}.o`, `${n}${native}.wo`, inner, d);
      };
      attention('0.SelfAttention', 'self');
      if (stack === 'decoder') attention('1.EncDecAttention', 'cross');
      const dense = `${h}${stack === 'decoder' ? 2 : 1}.DenseReluDense`;
      if (config.feedForward === 'relu') one(`${dense}.wi`, `${n}ff.w_in`, d, ff);
      else (one(`${dense}.wi_0`, `${n}ff.w_gate`, d, ff), one(`${dense}.wi_1`, `${n}ff.w_up`, d, ff));
      one(`${dense}.wo`, `${n}ff.w_out`, ff, d);
    }
  }
  return sites;
}

/** A student model's config: decoder-only or T5. */
type AdaptableConfig = ResolvedModelConfig | ResolvedT5Config;

function allSites(config: AdaptableConfig): Site[] {
  return config.arch === 't5' ? t5Sites(config) : causalSites(config);
}

/**
 * The projections `targets` select, matched like PEFT's target_modules (a target equal to a module's path or to
 * its last parts); throws naming a target that selects none and the valid names.
 */
function selectSites(config: AdaptableConfig, targets: string[], where: string): Site[] {
  const sites = allSites(config);
  const matches = (site: Site, target: string) => site.path === target || site.path.endsWith(`.${target}`);
  if (targets.length === 0) throw new Error(`${where}: "targetModules" names no module`);
  for (const target of targets) {
    if (!sites.some((s) => matches(s, target))) {
      const names = [...new Set(sites.map((s) => s.path.split('.').pop()))].join(', ');
      throw new Error(`${where}: target module "${target}" matches no ${config.arch} projection; valid names: ${names} (or a path such as ${sites[sites.length - 1].path})`);
    }
  }
  return sites.filter((s) => targets.some((t) => matches(s, t)));
}

/** PEFT's default target modules of a layout: GPT-2's fused c_attn, Llama's and Qwen2's q_proj and v_proj, T5's q and v. */
export function defaultTargetModules(config: AdaptableConfig): string[] {
  return config.arch === 'gpt2' ? ['c_attn'] : config.arch === 't5' ? ['q', 'v'] : ['q_proj', 'v_proj'];
}

/** Trainable parameters of `lora` on a model of `config`: rank * (in + out) per adapted projection. */
export function adapterParameterCount(config: AdaptableConfig, lora: LoraConfig, where = 'lora'): number {
  return lora.rank * selectSites(config, lora.targetModules, where).reduce((n, s) => n + s.inWidth + s.outWidths.reduce((x, y) => x + y, 0), 0);
}

/** Checks rank, alpha and dropout; `where` names the source in errors. */
function checkConfig(lora: LoraConfig, where: string): void {
  if (!Number.isSafeInteger(lora.rank) || lora.rank <= 0) throw new Error(`${where}: field "rank" must be a positive integer, got ${lora.rank}`);
  if (!(lora.alpha > 0)) throw new Error(`${where}: field "alpha" must be positive, got ${lora.alpha}`);
  if (!(lora.dropout >= 0 && lora.dropout < 1)) throw new Error(`${where}: field "dropout" must be in [0, 1), got ${lora.dropout}`);
}

let adapterCount = 0;

/** One adapted projection: its site and the variables a [in, r] = A^T, b [r, out] = B^T. */
interface Adapted {
  site: Site;
  a: tf.Variable;
  b: tf.Variable;
}

/**
 * Low-rank adapters on a model's projections. Attach with {@link LoraAdapter.attach}; the model's forward pass
 * then adds each adapter's update. `weights` are the trainable parameters (names like `layers.0.attn.wq.lora_a`).
 */
export class LoraAdapter implements ProjectionAdapter {
  readonly weights: Record<string, tf.Variable> = {};
  /** Dropout on while true (set by the trainers around their gradient passes). */
  training = false;
  readonly scale: number;
  private readonly byHook = new Map<string, Adapted>();
  private random: Random;

  private constructor(readonly modelConfig: AdaptableConfig, readonly config: LoraConfig, sites: Site[], seed: number) {
    this.scale = config.alpha / config.rank;
    this.random = new Random(seed);
    const prefix = `lora_${adapterCount++}`;
    const r = config.rank;
    for (const site of sites) {
      const out = site.outWidths.reduce((x, y) => x + y, 0);
      // PEFT's default init: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0.
      const bound = 1 / Math.sqrt(site.inWidth);
      const aData = new Float32Array(site.inWidth * r);
      for (let i = 0; i < aData.length; i++) aData[i] = (2 * this.random.next() - 1) * bound;
      // A variable shares its initial tensor's buffer: the tidy disposes those tensors so that dispose() frees it.
      const [a, b] = tf.tidy(() => [
        tf.variable(tf.tensor2d(aData, [site.inWidth, r]), true, `${prefix}/${site.hook}.lora_a`),
        tf.variable(tf.zeros([r, out]), true, `${prefix}/${site.hook}.lora_b`),
      ]);
      this.weights[`${site.hook}.lora_a`] = a;
      this.weights[`${site.hook}.lora_b`] = b;
      this.byHook.set(site.hook, { site, a, b });
    }
  }

  /** Makes adapters for `model` (seeded A, zero B) and attaches them; the model then runs with them. */
  static attach(model: Student, config: LoraConfig, options: { seed?: number; where?: string } = {}): LoraAdapter {
    const where = options.where ?? 'lora';
    checkConfig(config, where);
    if (model.adapter) throw new Error(`${where}: the model already has an adapter (merge or detach it first)`);
    const adapter = new LoraAdapter(model.config, config, selectSites(model.config, config.targetModules, where), options.seed ?? 0);
    model.adapter = adapter;
    return adapter;
  }

  /** The state of the dropout masks' random generator (read and set back by activation recomputation). */
  get randomState(): number {
    return this.random.getState();
  }

  set randomState(state: number) {
    this.random = Random.fromState(state);
  }

  /** The forward hook: y + scale * dropout(x) a b for an adapted projection, y itself otherwise. */
  apply(projection: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const adapted = this.byHook.get(projection);
    if (adapted) return tf.add(y, this.delta(adapted, x));
    // Llama's q/k/v run as one fused product: the update is [dq | dk | dv], zeros for projections not adapted.
    const qkv = /^layers\.(\d+)\.attn\.qkv$/.exec(projection);
    if (!qkv || this.modelConfig.arch === 'gpt2' || this.modelConfig.arch === 't5') return y;
    const parts = ['wq', 'wk', 'wv'].map((n) => this.byHook.get(`layers.${qkv[1]}.attn.${n}`));
    if (parts.every((p) => !p)) return y;
    const kv = (this.modelConfig.dModel / this.modelConfig.nHeads) * this.modelConfig.nKvHeads;
    const widths = [this.modelConfig.dModel, kv, kv];
    const deltas = parts.map((p, i) => (p ? this.delta(p, x) : tf.zeros([x.shape[0], widths[i]]) as tf.Tensor2D));
    return tf.add(y, tf.concat(deltas, 1));
  }

  /** scale * dropout(x) [N, in] @ a [in, r] @ b [r, out] -> [N, out]. */
  private delta(adapted: Adapted, x: tf.Tensor2D): tf.Tensor2D {
    const rate = this.config.dropout;
    const input = this.training && rate > 0 ? tf.dropout(x, rate, undefined, Math.floor(this.random.next() * 2 ** 31)) as tf.Tensor2D : x;
    return tf.mul(tf.matMul(tf.matMul(input, adapted.a as tf.Tensor2D), adapted.b as tf.Tensor2D), this.scale);
  }

  /** Number of adapter parameters. */
  numParams(): number {
    return Object.values(this.weights).reduce((n, v) => n + v.size, 0);
  }

  /** scale * a b per native weight it updates ([in, out] each; c_attn's split into wq, wk, wv), not tidied. */
  private updates(): { name: string; update: tf.Tensor2D }[] {
    const out: { name: string; update: tf.Tensor2D }[] = [];
    for (const { site, a, b } of this.byHook.values()) {
      const full = tf.mul(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), this.scale) as tf.Tensor2D;
      const pieces = site.native.length === 1 ? [full] : (tf.split(full, site.outWidths, 1) as tf.Tensor2D[]);
      site.native.forEach((name, i) => out.push({ name, update: pieces[i] }));
    }
    return out;
  }

  /** Host arrays of `base` (a model's toArrays()) with every adapter's update added (W + scale A^T B^T). */
  async mergeInto(base: WeightArrays): Promise<WeightArrays> {
    const merged: WeightArrays = new Map(base);
    for (const { name, data } of tf.tidy(() => this.updates().map(({ name: n, update }) => ({ name: n, data: tf.keep(update) })))) {
      const weight = base.get(name)!;
      const values = (await data.data()) as Float32Array;
      data.dispose();
      const sum = new Float32Array(weight.data.length);
      for (let i = 0; i < sum.length; i++) sum[i] = weight.data[i] + values[i];
      merged.set(name, { shape: weight.shape, data: sum });
    }
    return merged;
  }

  /**
   * Adds every update into `model`'s weights in place and detaches this adapter from it (no second copy of the
   * weights is made); the adapter is disposed.
   */
  mergeIntoModel(model: Student): void {
    if (model.adapter !== this) throw new Error('LoraAdapter.mergeIntoModel: this adapter is not the model\'s');
    tf.tidy(() => {
      for (const { name, update } of this.updates()) model.weights[name].assign(tf.add(model.weights[name], update));
    });
    model.adapter = undefined;
    this.dispose();
  }

  /**
   * PEFT's key of one adapter matrix, e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`,
   * `base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight`.
   */
  private peftKey(adapted: Adapted, matrix: 'A' | 'B'): string {
    return `base_model.model.${adapted.site.path}.lora_${matrix}.weight`;
  }

  /**
   * Writes `adapter_config.json` and `adapter_model.safetensors` in PEFT's layout to `dir` (created if needed):
   * lora_A.weight [r, in] and lora_B.weight [out, r], i.e. the transposes of the native a and b.
   */
  async save(dir: string, baseModel = ''): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const adapted of this.byHook.values()) {
      for (const [matrix, v] of [['A', adapted.a], ['B', adapted.b]] as const) {
        const t = tf.tidy(() => tf.transpose(v));
        tensors[this.peftKey(adapted, matrix)] = { shape: [...t.shape], data: (await t.data()) as Float32Array };
        t.dispose();
      }
    }
    writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
    writeJsonAtomic(join(dir, 'adapter_config.json'), {
      peft_type: 'LORA', task_type: this.modelConfig.arch === 't5' ? 'SEQ_2_SEQ_LM' : 'CAUSAL_LM', base_model_name_or_path: baseModel, inference_mode: true,
      r: this.config.rank, lora_alpha: this.config.alpha, lora_dropout: this.config.dropout,
      target_modules: this.config.targetModules, bias: 'none', fan_in_fan_out: this.modelConfig.arch === 'gpt2',
      modules_to_save: null, init_lora_weights: true, use_rslora: false, use_dora: false,
    });
  }

  /**
   * Reads a PEFT LoRA adapter folder and attaches it to `model`. Refuses (naming the file and field) other PEFT
   * types, rank-stabilised or DoRA adapters, trained biases, modules_to_save, and tensors that are missing,
   * unexpected or of the wrong shape.
   */
  static load(dir: string, model: Student): LoraAdapter {
    const configPath = join(dir, 'adapter_config.json');
    const weightsPath = join(dir, 'adapter_model.safetensors');
    for (const path of [configPath, weightsPath]) if (!existsSync(path)) throw new Error(`${path} does not exist (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)`);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
    }
    const refuse = (field: string, why: string) => new Error(`${configPath}: field "${field}" ${why}`);
    if (json.peft_type !== 'LORA') throw refuse('peft_type', `is ${JSON.stringify(json.peft_type)}; only "LORA" is supported`);
    if (json.use_rslora === true) throw refuse('use_rslora', 'is true; rank-stabilised scaling is not supported');
    if (json.use_dora === true) throw refuse('use_dora', 'is true; DoRA is not supported');
    if (json.bias !== undefined && json.bias !== 'none') throw refuse('bias', `is ${JSON.stringify(json.bias)}; only "none" is supported`);
    if (Array.isArray(json.modules_to_save) && json.modules_to_save.length > 0) throw refuse('modules_to_save', 'is not supported');
    const targets = typeof json.target_modules === 'string' ? [json.target_modules] : json.target_modules;
    if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw refuse('target_modules', 'must be a list of module names');
    const config: LoraConfig = { rank: json.r as number, alpha: json.lora_alpha as number, dropout: (json.lora_dropout as number | undefined) ?? 0, targetModules: targets as string[] };
    const adapter = LoraAdapter.attach(model, config, { where: configPath });
    try {
      const tensors = readSafetensors(weightsPath);
      const known = new Set<string>();
      for (const adapted of adapter.byHook.values()) {
        for (const [matrix, v] of [['A', adapted.a], ['B', adapted.b]] as const) {
          const key = adapter.peftKey(adapted, matrix);
          known.add(key);
          const found = tensors.get(key);
          if (!found) throw new Error(`${weightsPath}: tensor "${key}" is missing`);
          const shape = [v.shape[1], v.shape[0]];
          if (found.shape.join(',') !== shape.join(',')) throw new Error(`${weightsPath}: tensor "${key}" has shape [${found.shape.join(', ')}] but rank ${config.rank} needs [${shape.join(', ')}]`);
          tf.tidy(() => v.assign(tf.transpose(tf.tensor2d(found.data as Float32Array, shape as [number, number]))));
        }
      }
      const extra = [...tensors.keys()].find((k) => !known.has(k));
      if (extra) throw new Error(`${weightsPath}: unexpected tensor "${extra}" for target modules ${JSON.stringify(targets)}`);
    } catch (err) {
      model.adapter = undefined;
      adapter.dispose();
      throw err;
    }
    return adapter;
  }

  dispose(): void {
    for (const v of Object.values(this.weights)) v.dispose();
  }
}

/** The parameters a trainer updates: the adapter's when the model has one, else every LM weight. */
export function trainableWeights(model: StudentModel): Record<string, tf.Variable> {
  return model.adapter ? model.adapter.weights : model.weights;
}

/** The model's weights as host arrays with its adapter (if any) merged in: what export and checkpoints write. */
export async function mergedArrays(model: StudentModel): Promise<WeightArrays> {
  const arrays = await model.toArrays();
  return model.adapter instanceof LoraAdapter ? model.adapter.mergeInto(arrays) : arrays;
}

/** Runs `f` with the model's adapter (if any) in training mode (dropout on), restoring it after. */
export function withAdapterTraining<T>(model: StudentModel, f: () => T): T {
  const adapter = model.adapter;
  if (!adapter) return f();
  const previous = adapter.training;
  adapter.training = true;
  try {
    return f();
  } finally {
    adapter.training = previous;
  }
}

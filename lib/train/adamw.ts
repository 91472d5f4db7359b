import * as tf from '@tensorflow/tfjs';
import { adamwStep } from '../kernels/fused-ops';
import type { AdamWStepAttrs } from '../kernels/adamw-step';
import type { HasOptimizerState, OptimizerState } from '../model/checkpoint';

/** [p', m', v'] of one AdamW update as tf ops (the formulas are in {@link AdamW}'s comment). */
function compositeStep(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, a: AdamWStepAttrs): tf.Tensor[] {
  const mNext = tf.add(tf.mul(m, a.beta1), tf.mul(g, 1 - a.beta1));
  const vNext = tf.add(tf.mul(v, a.beta2), tf.mul(tf.square(g), 1 - a.beta2));
  let update = tf.div(tf.div(mNext, a.correction1), tf.add(tf.sqrt(tf.div(vNext, a.correction2)), a.eps));
  if (a.weightDecay !== 0) update = tf.add(update, tf.mul(p, a.weightDecay));
  return [tf.sub(p, tf.mul(update, a.lr)), mNext, vNext];
}

/** Hyper-parameters of {@link AdamW}. */
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay coefficient (default 0.01). */
  weightDecay?: number;
  /** Which parameters decay (default: matrices, i.e. rank >= 2; not norms, biases or the value head bias). */
  decays?: (name: string, parameter: tf.Variable) => boolean;
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter, 2019, Algorithm 2). For each parameter p with gradient
 * g at update t: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, m^ = m / (1 - b1^t), v^ = v / (1 - b2^t),
 * p = p - lr (m^ / (sqrt(v^) + eps) + wd p). Slots are tf.Variables named `m.<name>` / `v.<name>` in the state.
 */
export class AdamW implements HasOptimizerState {
  /** Updates applied so far. */
  step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly decaying: Set<string>;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};

  constructor(private readonly params: Record<string, tf.Variable>, options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    const decays = options.decays ?? ((_name: string, p: tf.Variable) => p.rank >= 2);
    this.decaying = new Set(Object.keys(params).filter((name) => decays(name, params[name])));
    // A variable shares its initial tensor's buffer: the tidy disposes the zeros so that dispose() frees it.
    tf.tidy(() => {
      for (const [name, p] of Object.entries(params)) {
        this.m[name] = tf.variable(tf.zerosLike(p), false);
        this.v[name] = tf.variable(tf.zerosLike(p), false);
      }
    });
  }

  /**
   * Applies one update with learning rate `lr`; gradients are by parameter name (missing ones are skipped), each
   * multiplied by `gradScale` first when it is given (a clipping factor, see `globalNormScale`).
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, gradScale?: tf.Scalar): void {
    this.step += 1;
    const { beta1, beta2, eps, step } = this;
    const correction1 = 1 - beta1 ** step;
    const correction2 = 1 - beta2 ** step;
    tf.tidy(() => {
      const scale = gradScale === undefined ? 1 : gradScale.dataSync()[0];
      for (const [name, g] of Object.entries(grads)) {
        const p = this.params[name];
        if (!p) throw new Error(`AdamW.apply: gradient for unknown parameter "${name}"`);
        const weightDecay = this.decaying.has(name) ? this.weightDecay : 0;
        const attrs = { gradScale: scale, lr, beta1, beta2, eps, weightDecay, correction1, correction2 };
        // One kernel per parameter where the backend has it (wasm), else the same update as tf ops.
        const [pNext, mNext, vNext] = adamwStep(p, this.m[name], this.v[name], g, attrs)
          ?? compositeStep(p, this.m[name], this.v[name], gradScale === undefined ? g : tf.mul(g, gradScale), attrs);
        p.assign(pNext);
        this.m[name].assign(mNext);
        this.v[name].assign(vNext);
      }
    });
  }

  async getState(): Promise<OptimizerState> {
    const slots: OptimizerState['slots'] = new Map();
    for (const [kind, vars] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of Object.entries(vars)) slots.set(`${kind}.${name}`, { shape: [...t.shape], data: (await t.data()) as Float32Array });
    }
    return { step: this.step, slots };
  }

  /** Restores a state from {@link getState}; `where` names its source (a file) in errors. */
  setState(state: OptimizerState, where = 'optimizer state'): void {
    for (const [kind, vars] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of Object.entries(vars)) {
        const slot = state.slots.get(`${kind}.${name}`);
        if (!slot) throw new Error(`${where}: slot "${kind}.${name}" is missing`);
        if (slot.shape.join(',') !== t.shape.join(',')) {
          throw new Error(`${where}: slot "${kind}.${name}" has shape [${slot.shape.join(', ')}] but the parameter has [${t.shape.join(', ')}]`);
        }
        tf.tidy(() => t.assign(tf.tensor(slot.data, slot.shape)));
      }
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}

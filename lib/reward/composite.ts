/**
 * The composite reward: runs named modules on a batch, checks their outputs, and combines their weighted scores by
 * a sum or by a mathjs expression over their names. Every component is returned per sample (unweighted), so each
 * can be logged.
 */
import * as mathjs from 'mathjs';
import { parse, type EvalFunction, type MathNode } from 'mathjs';
import type { RewardContext, RewardFailure, RewardInput, RewardModule, RewardScores } from './types';
import type { RewardOptions } from './define';
import { createReward, hasReward } from './registry';

/** How to build a composite; the fields mirror an experiment's `rewards` section. */
export interface CompositeConfig {
  /** Module names with their weights: total = Σ weight · component, or the `expression` over weighted components. */
  weights: Record<string, number>;
  /**
   * Instead of the sum, a mathjs expression over module names, with `-` written `_`, where each name stands for
   * weight · component (weight 1 for a module named only here): `answer_correctness * (1 + coherence)` with
   * weights `{ answer-correctness: 1, coherence: 0.2 }` is c_ac · (1 + 0.2 · c_coh). Every weighted module must appear.
   */
  expression?: string;
  /** Options per module name. */
  options?: Record<string, RewardOptions>;
  /** A module that throws, times out or returns NaN/Inf: stop with an error (`fail`), or mark samples invalid (`skip`). */
  onError?: 'fail' | 'skip';
  timeoutSeconds?: number;
}

/** The name a module has inside an expression: `answer-correctness` -> `answer_correctness`. */
export function expressionName(moduleName: string): string {
  return moduleName.replace(/-/g, '_');
}

function symbolsOf(node: MathNode): string[] {
  const functionNames = new Set<string>();
  node.traverse((n) => {
    if ((n as { type: string }).type === 'FunctionNode') functionNames.add((n as unknown as { fn: { name: string } }).fn.name);
  });
  const symbols = node.filter((n) => (n as { type: string }).type === 'SymbolNode').map((n) => (n as unknown as { name: string }).name);
  return [...new Set(symbols.filter((s) => !functionNames.has(s)))];
}

/** Reject after `seconds`, naming the module. */
function withTimeout<T>(promise: Promise<T>, seconds: number, name: string, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out after ${seconds} s`));
      controller.abort();
    }, seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer)).catch((error: unknown) => {
    throw new Error(`reward "${name}" failed: ${error instanceof Error ? error.message : String(error)}`);
  });
}

/** A weighted or expression-combined set of reward modules. Also a {@link RewardModule} (its score is the total). */
export class CompositeReward implements RewardModule {
  readonly name = 'composite';
  readonly modules: RewardModule[];
  private readonly expression?: EvalFunction;
  private readonly onError: 'fail' | 'skip';
  private readonly timeoutSeconds: number;

  constructor(readonly config: CompositeConfig) {
    const names = new Set(Object.keys(config.weights));
    if (config.expression !== undefined) {
      const tree = parse(config.expression);
      const byExpressionName = new Map([...names].map((n) => [expressionName(n), n]));
      const used = new Set<string>();
      for (const symbol of symbolsOf(tree)) {
        if (!byExpressionName.has(symbol) && typeof (mathjs as Record<string, unknown>)[symbol] === 'number') continue; // pi, e, ...
        const candidates = [symbol, symbol.replace(/_/g, '-')];
        const known = byExpressionName.get(symbol) ?? candidates.find(hasReward);
        if (!known) throw new Error(`reward expression "${config.expression}": unknown name "${symbol}" (use module names with - written _)`);
        names.add(known);
        used.add(known);
      }
      const unused = Object.keys(config.weights).filter((name) => !used.has(name));
      if (unused.length) {
        throw new Error(`weights.${unused[0]}: "${config.expression}" does not name ${expressionName(unused[0])}, so its weight would be ignored (name it in the expression or remove the weight)`);
      }
      this.expression = tree.compile();
    }
    if (names.size === 0) throw new Error('composite reward: name at least one module in "weights" or "expression"');
    for (const [name, weight] of Object.entries(config.weights)) {
      if (!Number.isFinite(weight)) throw new Error(`composite reward: weight of "${name}" must be a finite number, got ${weight}`);
    }
    this.modules = [...names].map((name) => createReward({ name, options: config.options?.[name] }));
    this.onError = config.onError ?? 'fail';
    this.timeoutSeconds = config.timeoutSeconds ?? 120;
  }

  /** Run every module on the batch (concurrently) and combine. */
  async scoreAll(batch: RewardInput[], context: RewardContext = {}): Promise<RewardScores> {
    const failures: RewardFailure[] = [];
    const valid = batch.map(() => true);
    const fail = (failure: RewardFailure) => {
      if (this.onError === 'fail') throw new Error(failure.message);
      failures.push(failure);
      for (const i of failure.samples) valid[i] = false;
    };
    const outputs = await Promise.all(this.modules.map(async (module) => {
      const controller = new AbortController();
      const signal = context.signal ? AbortSignal.any([context.signal, controller.signal]) : controller.signal;
      try {
        const scores = await withTimeout(module.score(batch, { ...context, signal }), this.timeoutSeconds, module.name, controller);
        if (!Array.isArray(scores) || scores.length !== batch.length) {
          throw new Error(`reward "${module.name}" returned ${Array.isArray(scores) ? scores.length : typeof scores} scores for ${batch.length} samples`);
        }
        return { module, scores, error: undefined };
      } catch (error) {
        return { module, scores: batch.map(() => Number.NaN), error: error instanceof Error ? error.message : String(error) };
      }
    }));
    const components: Record<string, number[]> = {};
    for (const { module, scores, error } of outputs) {
      components[module.name] = scores;
      if (error !== undefined) {
        fail({ module: module.name, message: error, samples: batch.map((_, i) => i) });
        continue;
      }
      const bad = scores.flatMap((s, i) => (Number.isFinite(s) ? [] : [i]));
      if (bad.length) fail({ module: module.name, message: `reward "${module.name}" gave ${scores[bad[0]]} for sample ${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`, samples: bad });
    }
    const total = batch.map((_, i) => (valid[i] ? this.combine(components, i) : Number.NaN));
    const badTotal = total.flatMap((t, i) => (valid[i] && !Number.isFinite(t) ? [i] : []));
    if (badTotal.length) {
      fail({ module: 'composite', message: `reward expression gave ${total[badTotal[0]]} for sample ${badTotal[0]}`, samples: badTotal });
      for (const i of badTotal) total[i] = Number.NaN;
    }
    return { total, components, valid, failures };
  }

  async score(batch: RewardInput[], context: RewardContext): Promise<number[]> {
    return (await this.scoreAll(batch, context)).total;
  }

  /** Sample i's total: Σ w·c, or the expression with each module's name bound to w·c. */
  private combine(components: Record<string, number[]>, i: number): number {
    const weighted = Object.entries(components).map(([name, scores]) => [name, (this.config.weights[name] ?? 1) * scores[i]] as const);
    if (this.expression) return Number(this.expression.evaluate(Object.fromEntries(weighted.map(([name, value]) => [expressionName(name), value]))));
    return weighted.reduce((sum, [, value]) => sum + value, 0);
  }
}

/**
 * `defineReward`: the one shape every reward module has, built-in or a user's own file.
 */
import type { RewardContext, RewardInput, RewardModule } from './types';

/** Module options: plain JSON-like values, given per module in an experiment's `rewards.options`. */
export type RewardOptions = Record<string, unknown>;

/** What a reward file declares. */
export interface RewardSpec<O extends RewardOptions> {
  /** Registry name, used in experiment configs and as the component's name in logs. */
  name: string;
  description?: string;
  /** Default options; a config's options for this module are merged over them. */
  defaults?: O;
  /** True when the module needs `context.judge` (an LLMClient). */
  needsJudge?: boolean;
  /**
   * Called when a configured instance is made ({@link RewardDefinition.create}, so when an experiment or a composite
   * sets the module up), before any scoring: the place to load a slow dependency, which would otherwise block the
   * event loop in the middle of the first batch (and of any judge requests in flight).
   */
  prepare?(): void;
  /** One number per input, higher is better; async and batched. */
  score(batch: RewardInput[], context: RewardContext, options: O): Promise<number[]>;
}

/**
 * A reward definition: a {@link RewardModule} with its default options, that can also make configured instances
 * with {@link RewardDefinition.create}.
 */
export interface RewardDefinition<O extends RewardOptions = RewardOptions> extends RewardModule {
  readonly description: string;
  readonly defaults: O;
  readonly needsJudge: boolean;
  /** A module with `options` merged over the defaults; unknown option names are an error. */
  create(options?: Partial<O>): RewardModule;
}

function checkOptionNames(name: string, defaults: RewardOptions, options: RewardOptions): void {
  const unknown = Object.keys(options).filter((key) => !(key in defaults));
  if (unknown.length > 0) {
    const known = Object.keys(defaults);
    throw new Error(`reward "${name}": unknown option(s) ${unknown.join(', ')} (known: ${known.length ? known.join(', ') : 'none'})`);
  }
}

/**
 * Declare a reward module. A custom reward is a file whose default export is `defineReward({...})`:
 * ```ts
 * export default defineReward({ name: 'short', score: async (batch) => batch.map((x) => (x.rationale.length < 200 ? 1 : 0)) });
 * ```
 */
export function defineReward<O extends RewardOptions = RewardOptions>(spec: RewardSpec<O>): RewardDefinition<O> {
  if (typeof spec?.name !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(spec.name)) {
    throw new Error(`defineReward: field "name" must be a name of letters, digits, - and _, got ${JSON.stringify(spec?.name)}`);
  }
  if (typeof spec.score !== 'function') throw new Error(`defineReward("${spec.name}"): field "score" must be a function`);
  const defaults = (spec.defaults ?? {}) as O;
  const make = (options: O): RewardModule => ({
    name: spec.name,
    score: (batch, context) => {
      if (spec.needsJudge && !context.judge) {
        return Promise.reject(new Error(`reward "${spec.name}" needs a judge (context.judge is not set)`));
      }
      return spec.score(batch, context, options);
    },
  });
  return {
    ...make(defaults),
    description: spec.description ?? '',
    defaults,
    needsJudge: spec.needsJudge ?? false,
    create(options = {}) {
      checkOptionNames(spec.name, defaults, options);
      spec.prepare?.();
      return make({ ...defaults, ...options } as O);
    },
  };
}

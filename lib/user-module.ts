/**
 * Loading a user's experiment and reward files. A `.ts` file is compiled by tsx, and `rationale-rl` (with its
 * subpaths) resolves to the copy of the package that is running, wherever the file lives: a file in a folder that
 * cannot resolve the package, or one that would find another copy, shares this process's modules (one reward
 * registry, one backend).
 */
import Module from 'node:module';
import { join } from 'node:path';

/** The library's areas, each a subpath of the package (`rationale-rl/model` ...), as package.json `exports` lists them. */
export const PACKAGE_AREAS = ['tokenizer', 'model', 'data', 'llm', 'teacher', 'train', 'rl', 'eval', 'experiment', 'log', 'reward', 'kernels'] as const;

/** The package's import names and the modules they name, relative to the running copy's root (`lib/..`). */
export const PACKAGE_ENTRIES: Record<string, string> = {
  'rationale-rl': 'lib/index',
  'rationale-rl/rewards': 'rewards/index',
  ...Object.fromEntries(PACKAGE_AREAS.map((area) => [`rationale-rl/${area}`, `lib/${area}/index`])),
};

/** Root of the running copy: the repository (sources through tsx) or `dist/` (compiled). */
const RUNNING_ROOT = join(__dirname, '..');

interface ResolvingModule {
  _resolveFilename(request: string, ...rest: unknown[]): string;
  _extensions: Record<string, unknown>;
}

let aliased = false;

/** Resolve `rationale-rl` and its subpaths to the running copy, for every later `require` in this process. */
function aliasPackage(): void {
  if (aliased) return;
  aliased = true;
  const resolving = Module as unknown as ResolvingModule;
  const resolveFilename = resolving._resolveFilename;
  resolving._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    const entry = PACKAGE_ENTRIES[request];
    return resolveFilename.call(this, entry ? join(RUNNING_ROOT, entry) : request, ...rest);
  };
}

/** Compile `.ts` files on `require` (once per process; nothing to do when something already does, as under tsx). */
function registerTypeScript(): void {
  if ((Module as unknown as ResolvingModule)._extensions['.ts']) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('tsx/cjs/api') as { register(): void }).register();
}

/** `require` a user's file (absolute path), `.ts` or `.js`, with `rationale-rl` resolving to the running package. */
export function requireUserModule(path: string): unknown {
  aliasPackage();
  if (/\.[cm]?ts$/.test(path)) registerTypeScript();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path);
}

/**
 * The package's import names agree everywhere: package.json `exports` (compiled copy), the CLI's resolution of
 * `rationale-rl` for user files (sources), and each subpath's module exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ENTRIES } from '../../lib/user-module';

const root = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { default: string }> };

test('every package.json export is resolved for user files to the same module, and each exists', () => {
  const fromPackageJson = Object.entries(pkg.exports).filter(([subpath]) => subpath !== './package.json')
    .map(([subpath, target]) => [`${pkg.name}${subpath.slice(1)}`, (target as { default: string }).default.replace(/^\.\/dist\//, '').replace(/\.js$/, '')]);
  expect(Object.fromEntries(fromPackageJson)).toEqual(PACKAGE_ENTRIES);
  for (const entry of Object.values(PACKAGE_ENTRIES)) expect(existsSync(join(root, `${entry}.ts`))).toBe(true);
});

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';

/**
 * Compressed forms a data file may be stored in, tried in this order when the plain file is absent: the repository
 * keeps large files as `X.gz` (`gzip -9n`) and the one file still over 1 MiB gzipped as `X.br` (brotli).
 */
const COMPRESSED: ReadonlyArray<{ suffix: string; decompress: (bytes: Buffer) => Buffer }> = [
  { suffix: '.gz', decompress: (bytes) => gunzipSync(bytes) },
  { suffix: '.br', decompress: (bytes) => brotliDecompressSync(bytes) },
];

/**
 * The file that holds `path`'s content: `path` itself if it exists, else `path.gz` or `path.br`; undefined when
 * none exists. A path that already names a `.gz` / `.br` file resolves to itself.
 */
export function resolveDataFile(path: string): string | undefined {
  if (existsSync(path)) return path;
  return COMPRESSED.map(({ suffix }) => path + suffix).find((candidate) => existsSync(candidate));
}

/** Whether `path` exists as a plain or compressed file (or folder), see {@link resolveDataFile}. */
export function dataFileExists(path: string): boolean {
  return resolveDataFile(path) !== undefined;
}

/**
 * The bytes of `path`, read transparently from `path`, `path.gz` or `path.br` (decompressed by the file's suffix).
 * A missing file is Node's usual ENOENT error naming `path`.
 */
export function readDataFile(path: string): Buffer {
  const found = resolveDataFile(path) ?? path;
  const bytes = readFileSync(found);
  const format = COMPRESSED.find(({ suffix }) => found.endsWith(suffix));
  if (!format) return bytes;
  try {
    return format.decompress(bytes);
  } catch (error) {
    throw new Error(`${found}: cannot decompress (${(error as Error).message}); the file is damaged or not ${format.suffix}`);
  }
}

/** The folder of this package (the one holding its package.json), found from this file wherever it was built to. */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'rationale-rl') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the rationale-rl package folder above ${__dirname}`);
  }
}

/** The data folder the package carries (`<package>/data`), whatever the working directory. */
export function packageDataDir(): string {
  return join(packageRoot(), 'data');
}

/**
 * The data folder used when none is given: `RRL_DATA_DIR` if set (resolved against the working directory), else
 * the package's own `data/` folder.
 */
export function defaultDataDir(): string {
  const fromEnv = process.env.RRL_DATA_DIR;
  return fromEnv && fromEnv.trim() !== '' ? resolve(fromEnv) : packageDataDir();
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { dataFileExists, defaultDataDir, packageDataDir, readDataFile, resolveDataFile } from '../../lib/data/files';
import { readJsonl } from '../../lib/data/jsonl';
import { loadDataset } from '../../lib/data/datasets';

const REPO = join(__dirname, '..', '..');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('data files read plain, gzipped or brotli-compressed', () => {
  const lines = [{ a: 1 }, { b: 'é' }];
  const text = lines.map((v) => JSON.stringify(v)).join('\n') + '\n';

  it('reads X from X, X.gz or X.br, the plain file first', () => {
    writeFileSync(join(dir, 'g.jsonl.gz'), gzipSync(text));
    writeFileSync(join(dir, 'b.jsonl.br'), brotliCompressSync(text));
    expect(readJsonl(join(dir, 'g.jsonl'))).toEqual(lines);
    expect(readJsonl(join(dir, 'b.jsonl'))).toEqual(lines);
    expect(readJsonl(join(dir, 'g.jsonl.gz'))).toEqual(lines); // naming the compressed file works too
    expect(resolveDataFile(join(dir, 'g.jsonl'))).toBe(join(dir, 'g.jsonl.gz'));
    writeFileSync(join(dir, 'g.jsonl'), '{"plain":true}\n');
    expect(readJsonl(join(dir, 'g.jsonl'))).toEqual([{ plain: true }]);
    expect(dataFileExists(join(dir, 'b.jsonl'))).toBe(true);
    expect(dataFileExists(join(dir, 'none.jsonl'))).toBe(false);
  });

  it('a missing file or a damaged archive is an error naming the file', () => {
    expect(() => readDataFile(join(dir, 'none.jsonl'))).toThrow(/ENOENT.*none\.jsonl/);
    writeFileSync(join(dir, 'bad.json.gz'), Buffer.from('not gzip at all'));
    expect(() => readDataFile(join(dir, 'bad.json'))).toThrow(`${join(dir, 'bad.json.gz')}: cannot decompress`);
  });

  it('the repository data unpacks to the bytes the data README lists (line counts)', () => {
    expect(readDataFile(join(REPO, 'data', 'hotpotqa', 'dev_subsampled_ircot.jsonl')).toString('utf8').trim().split('\n')).toHaveLength(500);
    expect(readDataFile(join(REPO, 'data', 'zero-shot-cot', 'teacher-rationales', 'strategyqa.jsonl')).toString('utf8').trim().split('\n')).toHaveLength(2290);
  });
});

describe('default data folder', () => {
  const saved = process.env.RRL_DATA_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.RRL_DATA_DIR;
    else process.env.RRL_DATA_DIR = saved;
  });

  it('is the package data/ folder, RRL_DATA_DIR overriding it', () => {
    delete process.env.RRL_DATA_DIR;
    expect(packageDataDir()).toBe(join(REPO, 'data'));
    expect(defaultDataDir()).toBe(join(REPO, 'data'));
    process.env.RRL_DATA_DIR = dir;
    expect(defaultDataDir()).toBe(dir);
    expect(() => loadDataset('last_letters')).toThrow(`no file found under ${dir}`);
    expect(loadDataset('last_letters', { dataDir: join(REPO, 'data') })).toHaveLength(500); // an explicit folder wins
  });

  it('loadDataset finds the package data from any working directory', () => {
    const script = "const { loadDataset } = require('./lib/data/datasets'); process.chdir(require('os').tmpdir()); console.log(loadDataset('coin_flip').length)";
    const env = { ...process.env };
    delete env.RRL_DATA_DIR;
    const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: REPO, env, encoding: 'utf8' });
    expect(out.trim()).toBe('500');
  });
});

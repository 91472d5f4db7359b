import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replicationExperiment } from '../../experiments/shared/replication';
import { DATASET_NAMES, recordedRationalesFile } from '../../lib/data/datasets';
import { validateExperiment } from '../../lib/experiment/config';
import { preflight } from '../../lib/experiment/preflight';

const DATA = join(__dirname, '..', '..', 'data');
const settings = { title: 't', maxSeqLen: 64, epochs: 1, maxNewTokens: 16 };

describe('the replication template', () => {
  const saved = process.env.RRL_DATA_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.RRL_DATA_DIR;
    else process.env.RRL_DATA_DIR = saved;
  });

  it('takes any dataset the loader knows and finds its recorded file by name or alias', () => {
    delete process.env.RRL_DATA_DIR;
    const csqa = replicationExperiment({ dataset: 'commonsenseqa', ...settings });
    expect(csqa.teacher).toMatchObject({ kind: 'recorded', path: join(DATA, 'zero-shot-cot', 'teacher-rationales', 'commonsensqa.jsonl') });
    expect(csqa.data).toMatchObject({ source: { kind: 'dataset', name: 'commonsenseqa', dataDir: DATA } });
    expect(replicationExperiment({ dataset: 'gsm8k', ...settings }).teacher).toMatchObject({ path: join(DATA, 'zero-shot-cot', 'teacher-rationales', 'gsm8k.jsonl') });
    // Every dataset name type-checks; a name the loader does not know does not.
    for (const dataset of DATASET_NAMES) expect(replicationExperiment({ dataset, ...settings }).name).toBe(`replicate-${dataset.replace(/_/g, '-')}`);
    // @ts-expect-error not a dataset the loader knows
    expect(() => replicationExperiment({ dataset: 'imagenet', ...settings })).toThrow('unknown dataset "imagenet"');
  });

  it('reads the zero-shot-CoT log names (shuffled_objects) from RRL_DATA_DIR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rrl-replication-'));
    try {
      const teacherDir = join(dir, 'zero-shot-cot', 'teacher-rationales');
      mkdirSync(teacherDir, { recursive: true });
      writeFileSync(join(teacherDir, 'shuffled_objects.jsonl'), '\n');
      process.env.RRL_DATA_DIR = dir;
      const config = replicationExperiment({ dataset: 'tracking_shuffled_objects', ...settings });
      expect(config.teacher).toMatchObject({ path: join(teacherDir, 'shuffled_objects.jsonl') });
      expect(recordedRationalesFile('object_tracking', dir)).toBe(join(teacherDir, 'shuffled_objects.jsonl'));
      // Without a recorded file, the path names the dataset, and the experiment's checks report it missing.
      const date = replicationExperiment({ dataset: 'date_understanding', ...settings });
      expect(date.teacher).toMatchObject({ path: join(teacherDir, 'date_understanding.jsonl') });
      expect(() => preflight(validateExperiment(date, 'replicate-date'), 'replicate-date')).toThrow(/teacher\.path: .*date_understanding\.jsonl does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

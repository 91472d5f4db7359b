import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { experimentDefaults, resolveEvalSettings } from '../../bin/eval-settings';
import { validateExperiment } from '../../lib/experiment/config';

const base = { split: 'test', seed: 0 };

let dir: string;
const saved = process.env.RRL_DATA_DIR;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-eval-settings-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  if (saved === undefined) delete process.env.RRL_DATA_DIR;
  else process.env.RRL_DATA_DIR = saved;
});

/** A run folder as the runner leaves it: manifest, data split and student folders. */
function fakeRun(name: string, config: Record<string, unknown>, stages: { rl?: boolean }): string {
  const root = join(dir, name);
  const resolved = validateExperiment({ name, output: dir, data: { source: { kind: 'synthetic', task: 'last_letters' } }, ...config });
  for (const folder of ['data', 'distill/best', 'rl/final']) mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, 'data', 'test.jsonl'), [0, 1, 2].map((i) => JSON.stringify({ id: `t/${i}`, question: `q${i}`, answers: ['a'], answerType: 'text' })).join('\n') + '\n');
  const done = (outputs: Record<string, string>) => ({ status: 'done', configHash: 'x', startedAt: '', outputs, summary: {} });
  const manifest = {
    version: 1, experiment: name, config: resolved, createdAt: '', updatedAt: '',
    stages: {
      data: done({ train: 'data/train.jsonl', test: 'data/test.jsonl' }),
      distill: done({ best: 'distill/best', last: 'distill/last' }),
      ...(stages.rl ? { rl: done({ final: 'rl/final', last: 'rl/last' }) } : {}),
    },
  };
  writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest));
  return root;
}

describe('rrl eval / generate settings', () => {
  it('without a run folder: the schema\'s defaults and the default data folder (RRL_DATA_DIR)', () => {
    const defaults = experimentDefaults();
    expect(defaults.distill.maxNewTokens).toBe(96);
    const settings = resolveEvalSettings({ ...base, checkpoint: 'ckpt', dataset: 'last_letters' });
    expect(settings).toMatchObject({ checkpoint: 'ckpt', format: 'fine-tune-cot', maxNewTokens: defaults.distill.maxNewTokens, judge: undefined, from: 'experiment defaults' });
    expect(settings.examples).toHaveLength(150); // the test split of the repository's 500 Last Letter questions
    process.env.RRL_DATA_DIR = join(dir, 'nowhere');
    expect(() => resolveEvalSettings({ ...base, checkpoint: 'ckpt', dataset: 'last_letters' })).toThrow(`no file found under ${join(dir, 'nowhere')}`);
    expect(() => resolveEvalSettings({ ...base, dataset: 'last_letters' })).toThrow('give a checkpoint folder, or --run <run folder>');
  });

  it('with --run: the run\'s test split, RL student, judge, format and max new tokens; flags still win', () => {
    const root = fakeRun('with-rl', { distill: { format: 'mt-cot', maxNewTokens: 120 } }, { rl: true });
    const settings = resolveEvalSettings({ ...base, run: root });
    expect(settings).toMatchObject({ checkpoint: join(root, 'rl', 'final'), judge: join(root, 'distill', 'best'), format: 'mt-cot', maxNewTokens: 120, from: `run ${root}` });
    expect(settings.examples.map((e) => e.id)).toEqual(['t/0', 't/1', 't/2']);
    const overridden = resolveEvalSettings({ ...base, run: root, checkpoint: 'other', maxNewTokens: 40, judge: 'j', limit: 2 });
    expect(overridden).toMatchObject({ checkpoint: 'other', maxNewTokens: 40, judge: 'j', format: 'mt-cot' });
    expect(overridden.examples).toHaveLength(2);
  });

  it('with --run: the distilled student when there is no RL one, a checkpoint judge by its path; a folder that is no run is refused', () => {
    const root = fakeRun('no-rl', { judge: { kind: 'checkpoint', path: '/models/judge' } }, {});
    expect(resolveEvalSettings({ ...base, run: root })).toMatchObject({ checkpoint: join(root, 'distill', 'best'), judge: '/models/judge', maxNewTokens: 96 });
    expect(() => resolveEvalSettings({ ...base, run: join(dir, 'missing') })).toThrow('has no manifest.json (not a run folder)');
  });

  it('chat prompts: the run\'s student.chatTemplate, else off; --chat-template wins', () => {
    expect(resolveEvalSettings({ ...base, checkpoint: 'ckpt', dataset: 'last_letters' }).chat).toBe(false);
    const instruct = fakeRun('instruct', { student: { checkpoint: '/models/instruct', chatTemplate: true } }, {});
    expect(resolveEvalSettings({ ...base, run: instruct }).chat).toBe(true);
    expect(resolveEvalSettings({ ...base, run: instruct, chatTemplate: false }).chat).toBe(false);
    const plain = fakeRun('base-model', { student: { checkpoint: '/models/base' } }, {});
    expect(resolveEvalSettings({ ...base, run: plain }).chat).toBe(false);
    expect(resolveEvalSettings({ ...base, run: plain, chatTemplate: true }).chat).toBe(true);
  });
});

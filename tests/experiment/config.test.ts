import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides, ConfigError, validateExperiment } from '../../lib/experiment/config';
import { loadExperiment } from '../../lib/experiment/load';

const minimal = { name: 'x', data: { source: { kind: 'synthetic', task: 'last_letters' } } };

function problems(input: unknown): string[] {
  try {
    validateExperiment(input, 'experiments/x.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message.startsWith('experiments/x.ts: invalid experiment config')).toBe(true);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('experiment config validation', () => {
  test('fills defaults for a minimal config', () => {
    const config = validateExperiment(minimal);
    expect(config.seed).toBe(0);
    expect(config.data.testFraction).toBe(0.3);
    expect(config.data.source).toEqual({ kind: 'synthetic', task: 'last_letters', size: 600, steps: 2 });
    expect(config.teacher).toMatchObject({ kind: 'offline', errorRate: 0.3 });
    expect(config.rl.kl.coef).toBe(0.05);
    expect(config.rewards.weights).toEqual({ 'answer-correctness': 1 });
  });

  test('student memory settings: off by default, on a shape or a checkpoint student, a negative chunk named', () => {
    expect(validateExperiment(minimal).student).toMatchObject({ gradientCheckpointing: false, logitChunkRows: 0 });
    const shaped = validateExperiment({ ...minimal, student: { arch: 'qwen2', gradientCheckpointing: true, logitChunkRows: 64 } });
    expect(shaped.student).toMatchObject({ gradientCheckpointing: true, logitChunkRows: 64 });
    const folder = validateExperiment({ ...minimal, student: { checkpoint: 'models/x', gradientCheckpointing: true } });
    expect(folder.student).toMatchObject({ checkpoint: 'models/x', gradientCheckpointing: true, logitChunkRows: 0 });
    expect(problems({ ...minimal, student: { logitChunkRows: -1 } })[0]).toMatch(/^student\.logitChunkRows: /);
  });

  test('a typo in a field name is named, with a suggestion', () => {
    const found = problems({ ...minimal, rl: { lerningRate: 1e-5 } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^rl\.lerningRate: unknown field \(did you mean "learningRate"\?\)/);
  });

  test('a typo inside a union member names the member\'s fields', () => {
    expect(problems({ ...minimal, student: { dModle: 64 } })[0]).toMatch(/^student\.dModle: unknown field \(did you mean "dModel"\?\)/);
  });

  test('a T5 student: T5Config names with the experiment\'s defaults; the model\'s rules name the bad field', () => {
    expect(validateExperiment({ ...minimal, student: { arch: 't5', dKv: 8, nDecoderLayers: 2 } }).student)
      .toEqual({ arch: 't5', dModel: 128, dKv: 8, nLayers: 4, nDecoderLayers: 2, nHeads: 4, maxSeqLen: 256, tokenizer: 'char' });
    expect(problems({ ...minimal, student: { arch: 't5', relativeBuckets: 7 } }))
      .toEqual(['student.relativeBuckets: field "relativeBuckets" must be even (half of them per direction in the encoder)']);
    expect(problems({ ...minimal, student: { arch: 't5', dModel: 30, nHeads: 4 } }))
      .toEqual(['student.nHeads: field "nHeads" (4) must divide field "dModel" (30) unless "dKv" is given']);
    expect(problems({ ...minimal, student: { arch: 't5', nKvHeads: 2 } })[0]).toMatch(/^student\.nKvHeads: unknown field/);
    expect(problems({ ...minimal, student: { arch: 't5', feedForward: 'swiglu' } })[0]).toMatch(/^student\.feedForward: Invalid option: expected one of "relu"\|"gated-gelu"/);
  });

  test('a wrong type names the field and the expected type', () => {
    expect(problems({ ...minimal, rl: { iterations: 'ten' } })).toEqual(['rl.iterations: Invalid input: expected number, received string']);
  });

  test('an unknown discriminator lists the allowed kinds', () => {
    expect(problems({ ...minimal, teacher: { kind: 'gpt' } })).toEqual(['teacher.kind: "gpt" is not allowed; allowed: "offline", "recorded", "llm"']);
  });

  test('a missing required field says so', () => {
    expect(problems({ name: 'x', data: { source: { kind: 'dataset' } } })).toEqual(['data.source.name: missing (expected string)']);
  });

  test('RL prompts default to the train split; generated prompts need a synthetic data source', () => {
    expect(validateExperiment(minimal).rl.prompts).toEqual({ kind: 'train' });
    expect(validateExperiment({ ...minimal, rl: { prompts: { kind: 'synthetic', size: 50 } } }).rl.prompts).toEqual({ kind: 'synthetic', size: 50 });
    expect(problems({ name: 'x', data: { source: { kind: 'dataset', name: 'last_letters' } }, rl: { prompts: { kind: 'synthetic', size: 50 } } }))
      .toEqual(['rl.prompts.kind: "synthetic" prompts come from a synthetic data source\'s generator, but data.source.kind is "dataset" (use "train" or "file")']);
    expect(problems({ ...minimal, rl: { prompts: { kind: 'file', path: 'q.jsonl' } } })).toEqual(['rl.prompts.mapping: missing (expected object)']);
  });

  test('--set overrides parse JSON values and create nested fields', () => {
    const out = applyOverrides(minimal as never, ['rl.iterations=7', 'data.source.task=coin_flip', 'rewards.weights={"coherence":1}']);
    const config = validateExperiment(out);
    expect(config.rl.iterations).toBe(7);
    expect(config.data.source).toMatchObject({ task: 'coin_flip' });
    expect(config.rewards.weights).toEqual({ coherence: 1 });
    expect(() => applyOverrides(minimal as never, ['novalue'])).toThrow(/expected key\.path=value/);
  });
});

describe('loading experiment files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrl-exp-'));

  test('a file that throws on import gets one error naming the file', () => {
    const file = join(dir, 'throws.js');
    writeFileSync(file, 'throw new Error("boom at import");');
    expect(() => loadExperiment(file)).toThrow(`${file}: invalid experiment config\n  - the file threw while loading: boom at import`);
  });

  test('a missing file is named', () => {
    expect(() => loadExperiment(join(dir, 'nope.ts'))).toThrow(/nope\.ts: invalid experiment config\n {2}- file not found/);
  });

  test('a valid file loads with overrides applied', () => {
    const file = join(dir, 'ok.js');
    writeFileSync(file, `module.exports = { default: ${JSON.stringify(minimal)} };`);
    expect(loadExperiment(file, ['seed=5']).seed).toBe(5);
  });
});

describe('preflight: paths and names checked before any work', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrl-pre-'));
  const write = (name: string, config: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, `module.exports = { default: ${JSON.stringify(config)} };`);
    return file;
  };

  test('an unknown reward and a missing data path are both named', () => {
    const file = write('bad.js', {
      name: 'x', data: { source: { kind: 'file', path: join(dir, 'missing.jsonl'), mapping: { question: 'q', answer: 'a' } } },
      rewards: { weights: { 'answer-corectness': 1 } },
    });
    let message = '';
    try { loadExperiment(file); } catch (error) { message = (error as Error).message; }
    expect(message).toContain(`data.source.path: ${join(dir, 'missing.jsonl')} does not exist`);
    expect(message).toMatch(/rewards\.weights\.answer-corectness: unknown reward \(known: .*answer-correctness/);
  });

  test('a missing RL prompts file is named', () => {
    const file = write('bad4.js', { ...minimal, rl: { prompts: { kind: 'file', path: join(dir, 'prompts.jsonl'), mapping: { question: 'q', answer: 'a' } } } });
    expect(() => loadExperiment(file)).toThrow(`rl.prompts.path: ${join(dir, 'prompts.jsonl')} does not exist`);
  });

  test('an unknown dataset name and a bad reward option are named', () => {
    const file = write('bad2.js', {
      name: 'x', data: { source: { kind: 'dataset', name: 'last_leters', dataDir: dir } },
      rewards: { weights: { coherence: 1 }, options: { coherence: { windw: 3 } } },
    });
    expect(() => loadExperiment(file)).toThrow(/data\.source\.name: .*last_leters/);
    const ok = write('bad3.js', { name: 'x', data: { source: { kind: 'synthetic', task: 'coin_flip' } }, rewards: { weights: { coherence: 1 }, options: { coherence: { windw: 3 } } } });
    expect(() => loadExperiment(ok)).toThrow(/rewards: reward "coherence": unknown option\(s\) windw/);
  });
});

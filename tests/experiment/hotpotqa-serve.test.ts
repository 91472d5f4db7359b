import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../lib/backend';
import { loadExperiment } from '../../lib/experiment/load';
import { runExperiment } from '../../lib/experiment/runner';
import { STAGE_IMPLEMENTATIONS, type EvalResults } from '../../lib/experiment/stages';
import { setConsoleLevel } from '../../lib/log/logger';
import { CausalLM } from '../../lib/model/causal-lm';
import { saveCheckpoint } from '../../lib/model/checkpoint';
import { ByteTokenizer } from '../../lib/tokenizer/byte';

setConsoleLevel('error');
const root = resolve(__dirname, '../..');

/** Start `rrl serve` and resolve with its base URL once it listens. */
function serve(checkpoint: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(root, 'bin/rrl.js'), 'serve', checkpoint, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((done, fail) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (match) done({ url: match[1], child });
    });
    child.on('exit', (code) => fail(new Error(`rrl serve exited ${code}: ${out}`)));
  });
}

test('the HotpotQA LM-guided experiment runs end to end with teacher and judge behind `rrl serve`', async () => {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'rrl-hotpot-'));
  const tokenizer = new ByteTokenizer();
  const served = CausalLM.create({ arch: 'llama', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 1536 }, { seed: 1 });
  await saveCheckpoint(join(dir, 'served'), { model: served, tokenizer });
  served.dispose();
  const { url, child } = await serve(join(dir, 'served'));
  try {
    Object.assign(process.env, { TEACHER_BASE_URL: url, TEACHER_MODEL: 'served', JUDGE_BASE_URL: url, JUDGE_MODEL: 'served', RRL_DATA_DIR: join(root, 'data') });
    const config = loadExperiment(join(root, 'experiments/hotpotqa-lm-guided.ts'), [
      `output=${JSON.stringify(dir)}`, 'data.limit=6', 'teacher.strategy=zero-shot-cot', 'teacher.maxTokens=12',
      'student={"arch":"llama","dModel":32,"nLayers":1,"nHeads":2,"maxSeqLen":600,"tokenizer":"byte"}',
      'distill.epochs=1', 'distill.filter=all', 'distill.maxNewTokens=12', 'distill.batchSize=4',
      'rl.iterations=1', 'rl.batchSize=2', 'rl.minibatchSize=2', 'rl.maxNewTokens=12', 'eval.limit=2', 'eval.samples=1',
      'rewards.options={"answer-correctness":{"maxTokens":8}}',
    ]);
    const manifest = await runExperiment(config, { implementations: STAGE_IMPLEMENTATIONS });
    expect(Object.values(manifest.stages).map((s) => s.status)).toEqual(Array(6).fill('done'));
    // The teacher's calls went over HTTP and were counted by the call layer; a rerun of the stage hits the cache.
    expect(manifest.stages.teacher?.summary.requests).toBeGreaterThanOrEqual(12);
    const run = join(dir, 'hotpotqa-lm-guided');
    const results = JSON.parse(readFileSync(join(run, 'eval/results.json'), 'utf8')) as EvalResults;
    expect(results.conditions.map((c) => c.condition)).toEqual(['no-rationale', 'teacher', 'distilled', 'rl']);
    const again = await runExperiment(config, { stages: ['teacher'], implementations: STAGE_IMPLEMENTATIONS });
    expect(again.stages.teacher?.summary).toMatchObject({ requests: 0 });
  } finally {
    child.kill('SIGTERM');
  }
}, 600_000);

/**
 * `npm run bench:ppo`: where the time of one PPO iteration goes, on a student of the size the experiments use.
 *
 * A GPT-2-layout student (d 128, 4 layers, 4 heads, character vocabulary, context 192) refines rationales for
 * Last Letter questions (the dataset under `data/`, or `RRL_DATA_DIR`): 8 prompts x 2 samples, up to 64 new
 * tokens each, 2 PPO epochs of minibatches of 8. The reward is the composite of every built-in text reward plus
 * answer-correctness judged by a frozen copy of the student in this process (LocalLLMClient). After one warm-up
 * iteration, it times `ITERATIONS` iterations and reports the mean split: sampling, reference/value passes, reward
 * scoring, update; and rollout tokens/s (response tokens per second of sampling).
 * Prints a table, then (last line) one JSON object with the figures.
 */
import { initBackend } from '../lib/backend';
import { defaultDataDir, loadDataset } from '../lib/data';
import { LocalLLMClient } from '../lib/llm';
import { CausalLM } from '../lib/model';
import { PPOTrainer, type IterationStats } from '../lib/rl';
import { CharTokenizer } from '../lib/tokenizer';
import { CompositeReward } from '../rewards';
import { gitCommit } from './commit';

const ITERATIONS = 2;
const PROMPTS = 8;

async function main(): Promise<void> {
  process.stderr.write(`bench:ppo on commit ${gitCommit()}\n`);
  const backend = await initBackend();
  const examples = loadDataset('last_letters', { dataDir: defaultDataDir() }).slice(0, PROMPTS * (ITERATIONS + 1));
  const tokenizer = CharTokenizer.fromTexts([...examples.map((e) => e.question), 'abcdefghijklmnopqrstuvwxyz ###-->".']);
  const policy = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 192 }, { seed: 0 });
  const judgeModel = policy.clone();
  const judge = new LocalLLMClient(judgeModel, tokenizer, { name: 'frozen-student' });
  const reward = new CompositeReward({
    weights: { 'answer-correctness': 1, relevance: 0.2, coherence: 0.2, factuality: 0.2, 'length-guard': 0.2 },
    options: { 'answer-correctness': { maxTokens: 8 } },
  });
  const trainer = new PPOTrainer({
    policy, tokenizer, reward, judge, seed: 0,
    config: { samplesPerPrompt: 2, maxNewTokens: 64, ppoEpochs: 2, minibatchSize: 8, learningRate: 1e-4 },
  });
  const batchOf = (i: number) => examples.slice(i * PROMPTS, (i + 1) * PROMPTS);
  await trainer.step(batchOf(0)); // warm-up: kernel setup, optimizer slots
  const runs: IterationStats[] = [];
  for (let i = 1; i <= ITERATIONS; i++) runs.push((await trainer.step(batchOf(i))).stats);

  const mean = (pick: (s: IterationStats) => number) => runs.reduce((a, s) => a + pick(s), 0) / runs.length;
  const split = {
    samplingMs: mean((s) => s.timings.samplingMs),
    passesMs: mean((s) => s.timings.passesMs),
    scoringMs: mean((s) => s.timings.scoringMs),
    updateMs: mean((s) => s.timings.updateMs),
  };
  const totalMs = Object.values(split).reduce((a, b) => a + b, 0);
  const rows = PROMPTS * trainer.config.samplesPerPrompt;
  const figures = {
    backend: backend.name,
    params: policy.numParams(),
    rows,
    maxNewTokens: trainer.config.maxNewTokens,
    iterations: runs.length,
    ...Object.fromEntries(Object.entries(split).map(([k, v]) => [k, Math.round(v)])),
    totalMs: Math.round(totalMs),
    rolloutTokens: mean((s) => s.rationaleTokens) * rows,
    rolloutTokensPerSecond: Math.round(mean((s) => s.tokensPerSecond)),
  };
  console.log(`backend: ${backend.name} (${backend.reason})`);
  console.log(`student: ${figures.params} parameters; ${rows} rationales per iteration (${PROMPTS} prompts x 2), up to ${figures.maxNewTokens} new tokens`);
  console.log('phase                       ms   share');
  for (const [name, ms] of Object.entries(split)) {
    console.log(`${name.replace(/Ms$/, '').padEnd(22)} ${ms.toFixed(0).padStart(7)} ${((100 * ms) / totalMs).toFixed(1).padStart(6)}%`);
  }
  console.log(`${'total'.padEnd(22)} ${totalMs.toFixed(0).padStart(7)}`);
  console.log(`rollout: ${figures.rolloutTokens.toFixed(0)} response tokens, ${figures.rolloutTokensPerSecond} tokens/s of sampling`);
  console.log(JSON.stringify(figures));
  trainer.dispose();
  judgeModel.dispose();
  policy.dispose();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

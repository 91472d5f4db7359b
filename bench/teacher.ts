/**
 * `npm run bench:teacher`: teacher-generation throughput through the whole stack: the OpenAI-compatible client
 * and call layer, HTTP on 127.0.0.1, the server and a tiny in-process checkpoint (GPT-2 layout, d 32, 1 layer,
 * character vocabulary, random weights; 16 new tokens per rationale, 4 per answer). Zero-shot CoT (two requests
 * per question) at client concurrency 1, 4 and 16, then the cache-hit path (the same run again from the disk
 * cache). Prints a table, then (last line) one JSON object with the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../lib/backend';
import type { Example } from '../lib/data/types';
import { createOpenAIClient } from '../lib/llm/openai-client';
import { startServer } from '../lib/llm/server';
import { CausalLM, saveCheckpoint } from '../lib/model';
import { setConsoleLevel } from '../lib/log/logger';
import { CharTokenizer } from '../lib/tokenizer';
import { generateRationales } from '../lib/teacher/run';
import { zeroShotCoT } from '../lib/teacher/strategies';
import { gitCommit } from './commit';

const QUESTIONS_PER_LEVEL = 48;

function questions(count: number, offset: number): Example[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `sum/${offset + i}`, question: `What is ${offset + i} + ${i % 7}?`, answers: [String(offset + i + (i % 7))], answerType: 'number',
  }));
}

interface Figures {
  reqPerS: number;
  tokPerS: number;
  requests: number;
  seconds: number;
}

async function main(): Promise<void> {
  process.stderr.write(`bench:teacher on commit ${gitCommit()}\n`);
  setConsoleLevel('warn');
  const backend = await initBackend();
  const work = mkdtempSync(join(tmpdir(), 'rrl-bench-teacher-'));
  const checkpoint = join(work, 'tiny');
  const tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;?!\'"()+-=\n']);
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 256 }, { seed: 1 });
  await saveCheckpoint(checkpoint, { model, tokenizer });
  model.dispose();
  const server = await startServer({ checkpoint, batchWindowMs: 5 });
  const strategy = zeroShotCoT({ maxTokens: 16 });

  const run = async (concurrency: number, examples: Example[], cacheDir?: string): Promise<Figures> => {
    const client = createOpenAIClient({ model: 'tiny', baseURL: server.url, concurrency, cacheDir });
    const outFile = join(work, `out-${concurrency}-${cacheDir ? 'cache' : 'live'}-${Date.now()}.jsonl`);
    const start = performance.now();
    await generateRationales({ client, strategy, examples, outFile, concurrency });
    const seconds = (performance.now() - start) / 1000;
    const usage = client.usage;
    const requests = usage.requests + usage.cacheHits;
    return { reqPerS: requests / seconds, tokPerS: usage.completionTokens / seconds, requests, seconds };
  };

  const results: Record<string, Figures> = {};
  for (const [i, c] of [1, 4, 16].entries()) results[`c${c}`] = await run(c, questions(QUESTIONS_PER_LEVEL, i * 1000));
  const cacheDir = join(work, 'cache');
  const cachedSet = questions(QUESTIONS_PER_LEVEL * 4, 10_000);
  await run(16, cachedSet, cacheDir);
  results.cacheHit = await run(16, cachedSet, cacheDir);
  await server.close();
  rmSync(work, { recursive: true, force: true });

  console.log(`teacher generation (zero-shot CoT, 2 requests/question) via HTTP on 127.0.0.1; backend ${backend.name}`);
  console.log('path       requests  seconds   req/s   completion tok/s');
  for (const [name, f] of Object.entries(results)) {
    console.log(`${name.padEnd(10)} ${String(f.requests).padStart(8)} ${f.seconds.toFixed(2).padStart(8)} ${f.reqPerS.toFixed(1).padStart(7)} ${f.tokPerS.toFixed(0).padStart(18)}`);
  }
  const round = (f: Figures) => ({ reqPerS: Number(f.reqPerS.toFixed(1)), tokPerS: Number(f.tokPerS.toFixed(0)) });
  console.log(JSON.stringify({
    c1: round(results.c1), c4: round(results.c4), c16: round(results.c16), cacheHit: { reqPerS: Number(results.cacheHit.reqPerS.toFixed(1)) },
  }));
}

void main();

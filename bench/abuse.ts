/**
 * `npm run bench:abuse`: `rrl serve` on 127.0.0.1 (a child process over a small random-initialised checkpoint) is sent
 * the bad requests that used to break it, then 200 concurrent mixed requests while /health is polled; the server's
 * RSS is sampled throughout. Prints a table of each bad request's answer and the load figures, then one JSON line.
 * Bounded: every request has a timeout, the server is stopped at the end (about a minute in all).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../lib/backend';
import { CausalLM, saveCheckpoint } from '../lib/model';
import { CharTokenizer } from '../lib/tokenizer';
import { gitCommit } from './commit';

const commit = gitCommit();

/** Resident set size of a process in MB, from /proc. */
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? NaN) / 1024;
}

interface Answer {
  status: number;
  message: string;
  ms: number;
}

/** One HTTP request with a raw body; resolves with the status and the error message (if any). */
function send(base: string, method: string, path: string, body?: string | Buffer, timeoutMs = 60_000): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const req = httpRequest(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let message = '';
        try {
          message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
        } catch {
          message = text.startsWith('data:') ? '(event stream)' : '';
        }
        resolvePromise({ status: res.statusCode ?? 0, message, ms: performance.now() - started });
      });
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (error) => resolvePromise({ status: 0, message: error.message, ms: performance.now() - started }));
    req.end(body);
  });
}

/** Open a connection, send a request whose body never completes, and time how long the server holds it. */
function halfSentBody(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"prompt": "');
    });
    socket.on('data', () => undefined);
    socket.on('close', () => resolvePromise((performance.now() - started) / 1000));
    socket.setTimeout(120_000, () => socket.destroy());
  });
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

async function main(): Promise<void> {
  await initBackend();
  const dir = mkdtempSync(join(tmpdir(), 'rrl-abuse-'));
  const checkpoint = join(dir, 'abuse-model');
  const tokenizer = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;?!\'"()+-=\n']);
  const model = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 256 }, { seed: 1 });
  await saveCheckpoint(checkpoint, { model, tokenizer });
  model.dispose();

  const server = spawn(process.execPath, [resolve(__dirname, '..', 'bin', 'rrl.js'), 'serve', checkpoint, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const base = await new Promise<string>((resolvePromise, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out)?.[1];
      if (url) resolvePromise(url);
    });
    server.on('exit', (code) => reject(new Error(`rrl serve exited ${code}`)));
    setTimeout(() => reject(new Error('rrl serve did not start within 60 s')), 60_000);
  });
  const port = Number(new URL(base).port);
  const pid = server.pid!;
  try {
    await send(base, 'POST', '/v1/completions', JSON.stringify({ prompt: 'warm up', max_tokens: 4 }));
    const rssStart = rssMb(pid);
    const json = (body: unknown) => JSON.stringify(body);
    const stops = (count: number) => Array.from({ length: count }, (_, i) => `stop-${i}`);
    const badRequests: [string, string, string, string | Buffer][] = [
      ['stream: true', 'POST', '/v1/completions', json({ prompt: 'Q:', max_tokens: 4, stream: true })],
      ['max_tokens: 0', 'POST', '/v1/completions', json({ prompt: 'Q:', max_tokens: 0 })],
      ['300k-entry stop list', 'POST', '/v1/completions', json({ prompt: 'Q:', stop: Array.from({ length: 300_000 }, () => 'a') })],
      ['stop string of 10k chars', 'POST', '/v1/completions', json({ prompt: 'Q:', stop: ['x'.repeat(10_000)] })],
      ['16 prompts x n=128', 'POST', '/v1/completions', json({ prompt: Array.from({ length: 16 }, () => 'Q:'), n: 128, max_tokens: 64 })],
      ['200k-character prompt', 'POST', '/v1/completions', json({ prompt: 'a'.repeat(200_000) })],
      ['max_tokens past the context', 'POST', '/v1/completions', json({ prompt: 'Q:', max_tokens: 1000 })],
      ['token id outside the vocabulary', 'POST', '/v1/completions', json({ prompt: [1, 2, 1_000_000] })],
      ['16 MB body', 'POST', '/v1/completions', Buffer.alloc(16 * 1024 * 1024, 'a')],
      ['body not JSON', 'POST', '/v1/completions', '{"prompt": '],
      ['temperature -1', 'POST', '/v1/chat/completions', json({ messages: [{ role: 'user', content: 'x' }], temperature: -1 })],
      ['image content part', 'POST', '/v1/chat/completions', json({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })],
      ['unknown route', 'POST', '/v1/embeddings', json({ input: 'x' })],
      ['GET on a POST route', 'GET', '/v1/completions', undefined as unknown as string],
      ['unknown model id', 'GET', '/v1/models/gpt-4', undefined as unknown as string],
    ];
    const rows: { request: string; status: number; message: string }[] = [];
    for (const [name, method, path, body] of badRequests) {
      const answer = await send(base, method, path, body);
      rows.push({ request: name, status: answer.status, message: answer.message.slice(0, 90) });
    }
    // 40 requests with 120,000-entry stop lists used to take RSS from 186 to 572 MB, never given back
    const bigStops = json({ prompt: 'Q:', max_tokens: 4, stop: stops(120_000) });
    const stopAnswers = await Promise.all(Array.from({ length: 40 }, () => send(base, 'POST', '/v1/completions', bigStops)));
    rows.push({ request: '40 x 120k-entry stop lists', status: stopAnswers[0].status, message: `${stopAnswers.filter((a) => a.status === 400).length} of 40 answered 400` });
    const rssAfterBad = rssMb(pid);

    // 200 concurrent mixed requests while /health is polled every 50 ms; a half-sent body alongside
    const held = halfSentBody(port);
    const mixed = (i: number): [string, string] => {
      const kind = i % 5;
      if (kind === 0) return ['/v1/completions', json({ prompt: `Q: ${i}?\nA:`, max_tokens: 48, n: 4, temperature: 1, seed: i })];
      if (kind === 1) return ['/v1/chat/completions', json({ messages: [{ role: 'user', content: `Hi ${i}` }], max_tokens: 32, temperature: 0.7 })];
      if (kind === 2) return ['/v1/chat/completions', json({ messages: [{ role: 'user', content: `Tell ${i}` }], max_tokens: 32, stream: true, stream_options: { include_usage: true } })];
      if (kind === 3) return ['/v1/completions', json({ prompt: Array.from({ length: 20 }, (_, t) => 5 + ((t * 7 + i) % 60)), echo: true, logprobs: 1, max_tokens: 0 })];
      return ['/v1/completions', json({ prompt: 'x'.repeat(i), max_tokens: 16, logprobs: 5, temperature: 0, seed: i })];
    };
    const healthMs: number[] = [];
    let loadRunning = true;
    const poll = (async () => {
      while (loadRunning) {
        const answer = await send(base, 'GET', '/health', undefined, 10_000);
        if (answer.status === 200) healthMs.push(answer.ms);
        else healthMs.push(Infinity);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let peakRss = rssMb(pid);
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMb(pid))), 100);
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => {
      const [path, body] = mixed(i);
      return send(base, 'POST', path, body, 120_000);
    }));
    const loadSeconds = (performance.now() - started) / 1000;
    loadRunning = false;
    await poll;
    clearInterval(rssTimer);
    const heldSeconds = await held;
    const rssEnd = rssMb(pid);
    const statuses: Record<string, number> = {};
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;

    console.log(`bench:abuse on commit ${commit}: rrl serve over a GPT-2 layout checkpoint (d 64, 2 layers, context 256, char tokenizer)\n`);
    console.log('| bad request | status | message |');
    console.log('|---|---|---|');
    for (const row of rows) console.log(`| ${row.request} | ${row.status} | ${row.message.replace(/\|/g, '/')} |`);
    console.log('\n| figure | value |');
    console.log('|---|---|');
    const figures: [string, string][] = [
      ['RSS at start (after one request)', `${rssStart.toFixed(0)} MB`],
      ['RSS after the bad requests', `${rssAfterBad.toFixed(0)} MB`],
      ['RSS peak under load', `${peakRss.toFixed(0)} MB`],
      ['RSS at the end', `${rssEnd.toFixed(0)} MB`],
      ['200 concurrent requests: statuses', Object.entries(statuses).map(([s, n]) => `${n} x ${s}`).join(', ')],
      ['200 concurrent requests: wall time', `${loadSeconds.toFixed(1)} s`],
      ['/health under load: polls, p50 / p99 / max', `${healthMs.length}, ${percentile(healthMs, 50).toFixed(0)} / ${percentile(healthMs, 99).toFixed(0)} / ${Math.max(...healthMs).toFixed(0)} ms`],
      ['half-sent body held for', `${heldSeconds.toFixed(1)} s`],
    ];
    for (const [name, value] of figures) console.log(`| ${name} | ${value} |`);
    console.log(JSON.stringify({
      bench: 'abuse', commit, badRequests: Object.fromEntries(rows.map((r) => [r.request, r.status])),
      rssStartMb: Math.round(rssStart), rssAfterBadMb: Math.round(rssAfterBad), rssPeakMb: Math.round(peakRss), rssEndMb: Math.round(rssEnd),
      loadStatuses: statuses, loadSeconds: Number(loadSeconds.toFixed(1)),
      healthPolls: healthMs.length, healthP50Ms: Math.round(percentile(healthMs, 50)), healthP99Ms: Math.round(percentile(healthMs, 99)), healthMaxMs: Math.round(Math.max(...healthMs)),
      halfSentBodyHeldSeconds: Number(heldSeconds.toFixed(1)),
    }));
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

// Child process for the SIGKILL test: makes `count` cached completion calls against `url`, printing "ready" first.
import { createOpenAIClient } from '../../../lib/llm/openai-client';

async function main(): Promise<void> {
  const [url, cacheDir, count] = process.argv.slice(2);
  const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: url, cacheDir, concurrency: 2 });
  process.stdout.write('ready\n');
  await Promise.all(Array.from({ length: Number(count) }, (_, i) =>
    client.complete({ prompt: `Q: What is ${i} + ${i}?\nA:`, temperature: 0.9, n: 2 })));
  process.stdout.write(`${JSON.stringify(client.usage)}\n`);
}

void main();

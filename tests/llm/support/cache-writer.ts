// The work of the SIGKILL test: `count` cached completion calls against `url`. Run as a script (by the test, as a
// child process it kills) it prints "ready" first and the client's usage at the end.
import type { UsageReport } from '../../../lib/llm/accounting';
import { createOpenAIClient } from '../../../lib/llm/openai-client';

export async function writeEntries(url: string, cacheDir: string, count: number, onReady = () => {}): Promise<UsageReport> {
  const client = createOpenAIClient({ model: 'arithmetic-teacher', baseURL: url, cacheDir, concurrency: 2 });
  onReady();
  await Promise.all(Array.from({ length: count }, (_, i) =>
    client.complete({ prompt: `Q: What is ${i} + ${i}?\nA:`, temperature: 0.9, n: 2 })));
  return client.usage;
}

if (require.main === module) {
  const [url, cacheDir, count] = process.argv.slice(2);
  void writeEntries(url, cacheDir, Number(count), () => process.stdout.write('ready\n'))
    .then((usage) => process.stdout.write(`${JSON.stringify(usage)}\n`));
}

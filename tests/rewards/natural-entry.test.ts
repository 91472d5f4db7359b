/**
 * The text rewards reach natural through its public entry, which runs `require('dotenv').config()` five times: in a
 * folder holding a `.env`, a process using a text reward prints no dotenv line to stdout, does not get the `.env`
 * variables in process.env, and scores exactly as natural's classes score in this process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Example } from '../../lib/data/types';
import { createReward } from '../../rewards';

const REWARDS = resolve(__dirname, '../../rewards/index.ts');
const TEXT_REWARDS = ['relevance', 'coherence', 'factuality', 'length-guard'];
const examples: Example[] = [
  { id: 'a', question: 'Take the last letters of each words in "Jeff Jen" and concatenate them.', answers: ['fn'], answerType: 'text' },
  { id: 'b', question: 'A coin is heads up. Noel flips the coin. Is the coin still heads up?', answers: ['no'], answerType: 'yes-no' },
  { id: 'c', question: 'Take the last letters of each words in "Giselle Noel" and concatenate them.', answers: ['el'], answerType: 'text' },
];
const rationales = [
  'The last letter of "Jeff" is "f". The last letter of "Jen" is "n". So the answer is fn.',
  'Noel flips the coin, so the coin is now tails up. The coins flipped once.',
  'Paris is the capital of France. Paris is the capital of France.',
];

/** Runs `source` (TypeScript) with tsx in a fresh folder holding a `.env` that sets RRL_DOTENV_MARKER. */
function runInFolderWithDotenv(source: string): { status: number | null; stdout: string; stderr: string } {
  const folder = mkdtempSync(join(tmpdir(), 'rrl-dotenv-'));
  writeFileSync(join(folder, '.env'), 'RRL_DOTENV_MARKER=from-dotenv\n');
  writeFileSync(join(folder, 'script.ts'), source);
  const env = { ...process.env };
  delete env.RRL_DOTENV_MARKER;
  delete env.DOTENV_CONFIG_QUIET;
  return spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), 'script.ts'], { cwd: folder, env, encoding: 'utf8' });
}

test('natural\'s own entry, required directly in that folder, prints dotenv lines and injects the marker (what the loader undoes)', () => {
  const child = runInFolderWithDotenv(`require(${JSON.stringify(require.resolve('natural'))});
console.log(JSON.stringify({ marker: process.env.RRL_DOTENV_MARKER ?? null }));
`);
  expect(child.status).toBe(0);
  const lines = child.stdout.trim().split('\n');
  expect(lines.filter((line) => line.includes('injected env'))).toHaveLength(5);
  expect(JSON.parse(lines[lines.length - 1])).toEqual({ marker: 'from-dotenv' });
});

test('text rewards: stdout is only the script\'s JSON, the .env marker stays out of process.env, values equal this process\'s', async () => {
  const child = runInFolderWithDotenv(`import { createReward } from ${JSON.stringify(REWARDS)};
const batch = ${JSON.stringify(examples.map((example, i) => ({ example, rationale: rationales[i] })))};
(async () => {
  const scores: Record<string, number[]> = {};
  for (const name of ${JSON.stringify(TEXT_REWARDS)}) scores[name] = await createReward({ name }).score(batch, {});
  console.log(JSON.stringify({ scores, marker: process.env.RRL_DOTENV_MARKER ?? null, quiet: process.env.DOTENV_CONFIG_QUIET ?? null }));
})();
`);
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const lines = child.stdout.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1); // no "◇ injected env" line
  const result = JSON.parse(lines[0]);
  expect(result.marker).toBeNull();
  expect(result.quiet).toBeNull(); // set only while natural loads
  const batch = examples.map((example, i) => ({ example, rationale: rationales[i] }));
  for (const name of TEXT_REWARDS) {
    const here = await createReward({ name }).score(batch, {});
    expect(result.scores[name]).toEqual(here);
  }
  expect(result.scores.relevance[0]).toBeGreaterThan(0); // the batch exercises TF-IDF, stemming and stopwords
}, 60_000);

test('the public entry hands out the very classes of natural\'s files (so scores cannot differ from before)', async () => {
  const { natural } = await import('../../rewards/text');
  const entry = natural();
  expect(entry.TfIdf).toBe(require('natural/lib/natural/tfidf/tfidf'));
  expect(entry.WordTokenizer).toBe(require('natural/lib/natural/tokenizers/regexp_tokenizer').WordTokenizer);
  expect(entry.PorterStemmer).toBe(require('natural/lib/natural/stemmers/porter_stemmer'));
  expect(entry.stopwords).toBe(require('natural/lib/natural/util/stopwords').words);
  expect(natural()).toBe(entry); // loaded once
});

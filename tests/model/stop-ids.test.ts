/**
 * Every `eos_token_id` a Hugging Face folder declares (generation_config.json may list several: Llama 3's
 * [128001, 128008, 128009]) ends generation, and the list survives the project's own checkpoint format and the
 * Hugging Face export, each reloaded.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../lib/backend';
import { LocalLLMClient } from '../../lib/llm/local-client';
import { exportHFCheckpoint, loadCheckpoint, saveCheckpoint } from '../../lib/model';
import { generate } from '../../lib/model/sampling';
import { CharTokenizer } from '../../lib/tokenizer';

const LLAMA = join(__dirname, '..', 'fixtures', 'hf', 'llama-sharded-bf16');
const PROMPT = 'The coin';
let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'rrl-stop-ids-'));
});

/** A copy of the Llama fixture whose generation_config.json declares `eos` as its eos_token_id list. */
function llamaWithStops(name: string, eos: number[]): string {
  const dir = join(root, name);
  cpSync(LLAMA, dir, { recursive: true });
  const path = join(dir, 'generation_config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), eos_token_id: eos }));
  return dir;
}

test('a list of three EOS ids: kept in order, through saveCheckpoint and exportHFCheckpoint; a single EOS writes no list', async () => {
  const dir = llamaWithStops('three-stops', [2, 0, 3]);
  const { model, tokenizer } = await loadCheckpoint(dir);
  expect([tokenizer.eosId, tokenizer.stopIds]).toEqual([2, [2, 0, 3]]);
  await saveCheckpoint(join(root, 'own'), { model, tokenizer });
  expect(JSON.parse(readFileSync(join(root, 'own', 'generation_config.json'), 'utf8'))).toEqual({ eos_token_id: [2, 0, 3] });
  const own = await loadCheckpoint(join(root, 'own'));
  expect([own.tokenizer.eosId, own.tokenizer.stopIds]).toEqual([2, [2, 0, 3]]);
  await exportHFCheckpoint(join(root, 'hf'), own.model, own.tokenizer);
  const hf = await loadCheckpoint(join(root, 'hf'));
  expect([hf.tokenizer.eosId, hf.tokenizer.stopIds]).toEqual([2, [2, 0, 3]]);
  // the plain fixture and a char tokenizer stop on their EOS only and write no list
  const plain = await loadCheckpoint(LLAMA);
  await saveCheckpoint(join(root, 'plain'), plain);
  expect(existsSync(join(root, 'plain', 'generation_config.json'))).toBe(false);
  expect((await loadCheckpoint(join(root, 'plain'))).tokenizer.stopIds).toEqual([2]);
  await saveCheckpoint(join(root, 'char'), { model: plain.model, tokenizer: CharTokenizer.fromTexts(['abc']) });
  expect(existsSync(join(root, 'char', 'generation_config.json'))).toBe(false);
  [model, own.model, hf.model, plain.model].forEach((m) => m.dispose());
});

test('generation stops on any declared EOS id, also after the own-format round trip and behind the local client', async () => {
  // The token the fixture writes first (greedy) when nothing stops it: declared as the third EOS id, it must end
  // the generation at once; declared nowhere, the generation runs on.
  const { model, tokenizer } = await loadCheckpoint(LLAMA);
  const [free] = await generate(model, tokenizer, [PROMPT], { maxNewTokens: 6, greedy: true, addBos: true });
  const first = free.tokenIds[0];
  expect(first).not.toBe(tokenizer.eosId);
  expect(free.finishReason).toBe('length'); // no stop id among its 6 tokens
  const extra = [0, 3].includes(first) ? [first] : [0, first];
  const dir = llamaWithStops('greedy-stops', [2, ...extra]);
  const stopping = await loadCheckpoint(dir);
  await saveCheckpoint(join(root, 'greedy-own'), stopping);
  const own = await loadCheckpoint(join(root, 'greedy-own'));
  for (const loaded of [stopping, own]) {
    const [out] = await generate(loaded.model, loaded.tokenizer, [PROMPT], { maxNewTokens: 6, greedy: true, addBos: true });
    expect([out.finishReason, out.tokenIds]).toEqual(['eos', [first]]);
    const client = new LocalLLMClient(loaded.model, loaded.tokenizer);
    const result = await client.complete({ prompt: PROMPT, maxTokens: 6, temperature: 0 });
    expect([result.choices[0].finishReason, result.usage.completionTokens]).toEqual(['stop', 1]);
  }
  [model, stopping.model, own.model].forEach((m) => m.dispose());
});

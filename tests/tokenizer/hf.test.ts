import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HFTokenizer, loadTokenizer } from '../../lib/tokenizer';
import { GPT2_CONFIG, GPT2_MERGES, LLAMA_CONFIG, byteLevelAlphabet, gpt2StyleTokenizer, llamaStyleTokenizer, randomTexts } from './hf-fixtures';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-hf-tokenizer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes tokenizer.json (+ tokenizer_config.json when given) into a fresh folder and returns it. */
function folderWith(name: string, tokenizerJson: unknown, config?: unknown): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'tokenizer.json'), typeof tokenizerJson === 'string' ? tokenizerJson : JSON.stringify(tokenizerJson));
  if (config !== undefined) writeFileSync(join(folder, 'tokenizer_config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return folder;
}

const roundTripTexts = [
  'hello world',
  ' leading space,  two spaces\tand a tab\nnew line ',
  'Q: What is 12 + 30? A: 42.',
  'accents café, CJK 数学, emoji 🙂👍🏽 and 👨‍👩‍👧',
];

describe('GPT-2 style byte-level BPE', () => {
  const id = (char: string) => byteLevelAlphabet().findIndex((entry) => entry.char === char);

  it('applies merges by rank: the hand-worked ids of "hello world"', () => {
    const tokenizer = HFTokenizer.fromFile(join(folderWith('gpt2', gpt2StyleTokenizer(), GPT2_CONFIG), 'tokenizer.json'));
    expect(id('l')).toBe(75);
    expect(id('Ġ')).toBe(220);
    // h e l l o: "h e" (rank 0) -> he; then "l o" (1) beats "l l" (2) -> he l lo; "he l" (3) -> hel lo; "hel lo" (4) -> hello.
    // Ġ w o r l d: "Ġ w" (5), "o r" (6), "Ġw or" (7) -> Ġwor l d; no merge for "l d".
    expect(tokenizer.encode('hello world')).toEqual([260, 263, 75, 67]);
    expect(tokenizer.idToToken(263)).toBe('Ġwor');
    expect(tokenizer.tokenToId('hello')).toBe(260);
  });

  it('gives different ids when the two competing merges swap rank', () => {
    const swapped = gpt2StyleTokenizer();
    const model = swapped.model as { merges: string[] };
    model.merges = GPT2_MERGES.map((m) => (m === 'l o' ? 'l l' : m === 'l l' ? 'l o' : m));
    // now "l l" wins: he ll o, and no merge joins them
    expect(new HFTokenizer(swapped, GPT2_CONFIG).encode('hello')).toEqual([256, 258, id('o')]);
  });

  it.each([
    // one pre-token " 12345": "3 4" (rank 8) first -> 1 2 34 5; "1 2" (9) -> 12 34 5
    ['gpt2', [220, 265, 264, id('5')]],
    // Llama 3 splits digits in groups of 1-3: "123" -> 12 3 -> 123; "45" -> 45
    ['llama3', [220, 266, 267]],
    // SmolLM splits every digit: no digit merge can fire
    ['smollm', [220, ...'12345'.split('').map(id)]],
  ] as const)('honours the %s pre-tokenizer layout', (layout, digitIds) => {
    const tokenizer = new HFTokenizer(gpt2StyleTokenizer(layout), GPT2_CONFIG);
    expect(tokenizer.encode('hello world')).toEqual([260, 263, 75, 67]);
    expect(tokenizer.encode(' 12345')).toEqual(digitIds);
    for (const text of [...roundTripTexts, 'n = 1234567, x=12.5', ...randomTexts(200, 7)]) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('uses <|endoftext|> for BOS, EOS and PAD, as GPT-2 does', () => {
    const tokenizer = new HFTokenizer(gpt2StyleTokenizer(), GPT2_CONFIG);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([268, 268, 268]);
    expect(tokenizer.vocabSize).toBe(269);
    expect(tokenizer.encode('hello', { addBos: true, addEos: true })).toEqual([268, 260, 268]);
    // without a config the well-known name is found
    expect(new HFTokenizer(gpt2StyleTokenizer(), {}).specialTokens).toEqual({ bos: '<|endoftext|>', eos: '<|endoftext|>', pad: '<|endoftext|>' });
  });

  it('round-trips any text exactly, and special tokens written in the text', () => {
    const tokenizer = new HFTokenizer(gpt2StyleTokenizer(), GPT2_CONFIG);
    for (const text of roundTripTexts) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    const ids = tokenizer.encode('hello<|endoftext|> 🙂');
    expect(ids.slice(0, 3)).toEqual([260, 268, 220]);
    expect(ids.slice(3)).toEqual([...Buffer.from('🙂')].map((b) => byteLevelAlphabet().findIndex((e) => e.byte === b)));
    expect(tokenizer.decode(ids)).toBe('hello<|endoftext|> 🙂');
    expect(tokenizer.decode(ids, { skipSpecial: true })).toBe('hello 🙂');
    expect(tokenizer.decode([])).toBe('');
  });

  it('batch-encodes with left padding by the pad (= EOS) id', () => {
    const tokenizer = new HFTokenizer(gpt2StyleTokenizer(), GPT2_CONFIG);
    const batch = tokenizer.encodeBatch(['hello world', 'hello'], { padSide: 'left', addEos: true });
    expect(batch.ids).toEqual([[260, 263, 75, 67, 268], [268, 268, 268, 260, 268]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]]);
  });
});

describe('a vocabulary of real size', () => {
  it('loads a 150k-token vocabulary (Llama 3 has 128k) and counts it', () => {
    const big = gpt2StyleTokenizer();
    const model = big.model as { vocab: Record<string, number> };
    const base = Object.keys(model.vocab).length;
    for (let i = 0; i < 150_000; i++) model.vocab[`tok${i}`] = base + i;
    (big.added_tokens as { id: number }[])[0].id = base + 150_000;
    const tokenizer = new HFTokenizer(big, GPT2_CONFIG);
    expect(tokenizer.vocabSize).toBe(base + 150_001);
    expect(tokenizer.eosId).toBe(base + 150_000);
    expect(tokenizer.encode('hello world')).toEqual([260, 263, 75, 67]);
  });
});

describe.each(['normalizer', 'metaspace'] as const)('Llama/SentencePiece style BPE with byte fallback (%s layout)', (layout) => {
  const make = () => new HFTokenizer(llamaStyleTokenizer(layout), LLAMA_CONFIG, `llama-${layout}`);

  it('applies merges by rank: the hand-worked ids of "lower low"', () => {
    // "▁lower▁low": "o w" (rank 0) twice -> ▁ l ow e r ▁ l ow; "▁ l" (1) -> ▁l ow e r ▁l ow ("l o" never fires);
    // "e r" (3) -> ▁l ow er ▁l ow; "▁l ow" (4) -> ▁low er ▁low; "▁low er" (5) -> ▁lower ▁low.
    // Ids: 3 specials, 256 bytes, then pieces from 259: ▁lower = 270, ▁low = 269.
    expect(make().encode('lower low')).toEqual([270, 269]);
  });

  it('falls back to UTF-8 byte tokens for characters outside the vocabulary', () => {
    const tokenizer = make();
    // é = C3 A9 -> <0xC3> = 3 + 0xC3 = 198, <0xA9> = 172; "\n" -> <0x0A> = 13; "x" -> <0x78> = 123
    expect(tokenizer.encode('lower low é')).toEqual([270, 269, 259, 198, 172]);
    expect(tokenizer.encode('low  lower\nx')).toEqual([269, 259, 270, 13, 123]);
  });

  it('reads bos/eos from tokenizer_config.json in AddedToken form; pad falls back to EOS', () => {
    const tokenizer = make();
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([1, 2, 2]);
    expect(tokenizer.vocabSize).toBe(271);
    // encode adds no BOS by itself even though the post-processor would: only addBos does
    expect(tokenizer.encode('low', { addBos: true })).toEqual([1, 269]);
  });

  it('round-trips text that does not start with a space exactly', () => {
    const tokenizer = make();
    const texts = [...roundTripTexts, ...randomTexts(200, 11)].filter((t) => !/^\s/.test(t));
    for (const text of texts) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.decode([1, 270, 269, 2], { skipSpecial: true })).toBe('lower low');
  });
});

describe('saving and loading', () => {
  it('save writes tokenizer.json unchanged and the resolved specials into tokenizer_config.json', async () => {
    const original = new HFTokenizer(llamaStyleTokenizer('metaspace'), LLAMA_CONFIG);
    const folder = join(dir, 'saved');
    await original.save(folder);
    expect(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8'))).toEqual(llamaStyleTokenizer('metaspace'));
    const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'));
    expect([config.bos_token, config.eos_token, config.pad_token, config.add_bos_token]).toEqual(['<s>', '</s>', '</s>', true]);
    const loaded = loadTokenizer(folder);
    expect(loaded).toBeInstanceOf(HFTokenizer);
    expect([loaded.bosId, loaded.eosId, loaded.padId, loaded.vocabSize]).toEqual([1, 2, 2, 271]);
    for (const text of roundTripTexts) expect(loaded.encode(text)).toEqual(original.encode(text));
  });
});

describe('errors', () => {
  it('names a missing tokenizer.json', () => {
    expect(() => HFTokenizer.fromFile(join(dir, 'none', 'tokenizer.json'))).toThrow(/none\/tokenizer\.json: file not found/);
  });

  it('names the file holding malformed JSON', () => {
    const bad = folderWith('badjson', '{"model": {"type": "BPE",,}}');
    expect(() => loadTokenizer(bad)).toThrow(/badjson\/tokenizer\.json: malformed JSON at line 1, column 26/);
    const badConfig = folderWith('badconfig', gpt2StyleTokenizer(), '{"eos_token": }');
    expect(() => HFTokenizer.fromFile(join(badConfig, 'tokenizer.json'))).toThrow(/badconfig\/tokenizer_config\.json: malformed JSON/);
  });

  it('rejects an unsupported model type', () => {
    const wordLevel = { ...gpt2StyleTokenizer(), model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } };
    expect(() => loadTokenizer(folderWith('wordlevel', wordLevel))).toThrow(
      /wordlevel\/tokenizer\.json: unsupported tokenizer model type "WordLevel" \(supported: BPE, Unigram, WordPiece\)/,
    );
    expect(() => loadTokenizer(folderWith('nomodel', { version: '1.0' }))).toThrow(/nomodel\/tokenizer\.json: no "model" object/);
  });

  it('rejects special tokens that are missing or unknown', () => {
    const noEos = llamaStyleTokenizer('metaspace');
    (noEos.added_tokens as unknown[]).splice(2, 1);
    delete (noEos.model as { vocab: Record<string, number> }).vocab['</s>'];
    expect(() => loadTokenizer(folderWith('noeos', noEos))).toThrow(/noeos\/tokenizer\.json: no EOS token declared; name one as "eos_token" in tokenizer_config.json or "eos_token_id" in config.json/);
    expect(() => loadTokenizer(folderWith('unknowneos', gpt2StyleTokenizer(), { eos_token: '</s>' }))).toThrow(
      /unknowneos\/tokenizer\.json: tokenizer_config\.json eos_token "<\/s>" is not in the vocabulary/,
    );
  });

  it('rejects ids outside the vocabulary when decoding', () => {
    expect(() => new HFTokenizer(gpt2StyleTokenizer(), GPT2_CONFIG).decode([260, 269])).toThrow(/HFTokenizer\.decode: id 269 at position 1/);
  });
});

/**
 * What both checkpoint formats share: folders written atomically (under a temporary name beside the target,
 * renamed into place, so a reader never sees half a checkpoint) and the tokenizer/model fit check.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { processIsRunning } from '../fs';
import type { Tokenizer } from '../tokenizer/types';

/**
 * Clears what a writer killed in the middle of {@link writeFolderAtomic} left beside `target` (names end in
 * `-<pid>-<time>`): a kill between the swap's two renames leaves no `target` but its previous version as `.old-`,
 * which is put back; temporary folders of writers no longer running are removed.
 */
export function recoverInterruptedWrite(target: string): void {
  const parent = dirname(target);
  const prefixes = [`.${basename(target)}.tmp-`, `.${basename(target)}.old-`];
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent).filter((n) => prefixes.some((p) => n.startsWith(p)))) {
    const pid = Number(/-(\d+)-\d+$/.exec(name)?.[1]);
    if (!pid || pid === process.pid || processIsRunning(pid)) continue;
    if (name.startsWith(prefixes[1]) && !existsSync(target)) renameSync(join(parent, name), target);
    else rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Writes `write(temp)` into a fresh sibling folder, then swaps it in for `dir`. */
export async function writeFolderAtomic(dir: string, write: (temp: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  recoverInterruptedWrite(target);
  const stamp = `${process.pid}-${Date.now()}`;
  const temp = join(dirname(target), `.${basename(target)}.tmp-${stamp}`);
  try {
    await write(temp);
    if (existsSync(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${stamp}`);
      renameSync(target, old);
      renameSync(temp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(temp, target);
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/** Checks that every id the tokenizer can produce has a row in the model's embedding. */
export function checkTokenizerFits(tokenizer: Tokenizer, config: { vocabSize: number }, where: string): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(`${where}: tokenizer vocabSize ${tokenizer.vocabSize} is larger than the model config's vocabSize ${config.vocabSize}`);
  }
}


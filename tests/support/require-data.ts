/**
 * The test suite's one policy for inputs: nothing is skipped. A data file or folder a test reads is part of the
 * checkout; when it is missing the whole test file fails here, naming it.
 */
import { existsSync } from 'node:fs';

/** `path`, or an error naming it (thrown at load, so every test of the file fails with this message). */
export function requireData(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: the tests read the repository's data/ folder (nothing is skipped)`);
  return path;
}

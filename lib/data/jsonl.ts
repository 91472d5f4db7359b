import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { logger } from '../log/logger';
import { writeFileAtomic, writeJsonAtomic } from '../fs';
import { readDataFile } from './files';
import { jsonErrorOffset } from './json-error';

export { writeFileAtomic, writeJsonAtomic };

/** Options for {@link readJsonl}. */
export interface ReadJsonlOptions {
  /**
   * Accept a last line that is not valid JSON and has no closing newline (a write cut short by a crash): it is
   * dropped with a warning. Any other bad line is still an error.
   */
  allowTornLastLine?: boolean;
  /** Where the torn-line warning goes (default: the project logger). */
  onWarning?: (message: string) => void;
  /** Refuse a line longer than this many bytes (UTF-8) with an Error naming `path:line` and the limit. */
  maxLineBytes?: number;
}

/** The error for a record over a size limit; `where` is `path:line` or `path: item N`. */
export function recordTooLarge(where: string, bytes: number, limit: number): Error {
  return new Error(`${where}: record is ${bytes} bytes, over the limit of ${limit} bytes per record (${(limit / 2 ** 20).toFixed(limit % 2 ** 20 ? 2 : 0)} MiB); split or shorten it`);
}

/**
 * Read a text file as UTF-8, from `path` or, when that is absent, its compressed `path.gz` / `path.br` (see
 * `readDataFile`). Bytes that are not valid UTF-8 are an Error naming `path:line` and the byte offset,
 * rather than text silently holding U+FFFD replacement characters. An incomplete character at the very end (a write
 * cut short by a crash) is left off, so the torn last line is handled like any other.
 */
export function readUtf8File(path: string): string {
  const bytes = readDataFile(path);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return decoder.decode(bytes, { stream: true });
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const newline = bytes.indexOf(0x0a, start);
      const end = newline < 0 ? bytes.length : newline;
      try {
        decoder.decode(bytes.subarray(start, end));
      } catch {
        throw new Error(`${path}:${line}: not valid UTF-8 (bytes ${start}-${end} of the file); save it as UTF-8`);
      }
      start = end + 1;
    }
  }
}

/** Line (1-based) and column of a character offset in `text`. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Read a JSON Lines file: one JSON value per non-blank line. A line that does not parse is an Error naming
 * `path:line`; with `allowTornLastLine`, an unterminated unparsable last line is dropped with a warning instead.
 */
export function readJsonl(path: string, options: ReadJsonlOptions = {}): unknown[] {
  return readJsonlLines(path, options).map((entry) => entry.value);
}

/** One parsed line of a JSON Lines file, with its 1-based line number (for error messages). */
export interface JsonlLine {
  line: number;
  value: unknown;
}

/** {@link readJsonl}, keeping each value's line number. */
export function readJsonlLines(path: string, options: ReadJsonlOptions = {}): JsonlLine[] {
  return parseJsonlText(readUtf8File(path), path, options);
}

/** Parse JSON Lines already in memory; `path` only names the source in errors. */
export function parseJsonlText(text: string, path: string, options: ReadJsonlOptions = {}): JsonlLine[] {
  const lines = text.split('\n');
  const values: JsonlLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    // A UTF-16 code unit is 1 to 3 UTF-8 bytes: count bytes only when the length alone cannot decide.
    const limit = options.maxLineBytes;
    if (limit !== undefined && line.length * 3 > limit) {
      const bytes = Buffer.byteLength(line);
      if (bytes > limit) throw recordTooLarge(`${path}:${i + 1}`, bytes, limit);
    }
    try {
      values.push({ line: i + 1, value: JSON.parse(line) });
    } catch (error) {
      const isLast = i === lines.length - 1; // no newline after it: the write never finished
      if (isLast && options.allowTornLastLine) {
        (options.onWarning ?? ((m: string) => logger.warn(m)))(
          `${path}:${i + 1}: dropped an incomplete last line (${line.length} characters), probably cut short by a crash`,
        );
        break;
      }
      throw new Error(`${path}:${i + 1}: not valid JSON (${(error as Error).message})`);
    }
  }
  return values;
}

/** Read a JSON file; a syntax error names `path:line:column`. */
export function readJson(path: string): unknown {
  return parseJsonText(readUtf8File(path), path);
}

/** Parse JSON already in memory; `path` only names the source in errors. */
export function parseJsonText(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = lineAndColumn(text, jsonErrorOffset(text));
    throw new Error(`${path}:${where.line}:${where.column}: not valid JSON (${(error as Error).message.slice(0, 120)})`);
  }
}

/** Write values as JSON Lines, atomically (readers see the old file or the new one, never a part). */
export function writeJsonl(path: string, values: readonly unknown[]): void {
  writeFileAtomic(path, values.map((value) => JSON.stringify(value) + '\n').join(''));
}

/**
 * Append values as JSON Lines and flush them to disk, for long runs that write as they go. If the file ends in a
 * torn line (a crash mid-write), that fragment is cut off first so the new lines start on a clean line.
 */
export function appendJsonl(path: string, values: readonly unknown[], options: Pick<ReadJsonlOptions, 'onWarning'> = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
  try {
    let size = fstatSync(fd).size;
    const cleanEnd = endOfLastCompleteLine(fd, size);
    if (cleanEnd < size) {
      (options.onWarning ?? ((m: string) => logger.warn(m)))(
        `${path}: cut ${size - cleanEnd} bytes of an incomplete last line before appending`,
      );
      ftruncateSync(fd, cleanEnd);
      size = cleanEnd;
    }
    writeSync(fd, values.map((value) => JSON.stringify(value) + '\n').join(''), size);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Byte offset just after the file's last newline (0 if it has none). */
function endOfLastCompleteLine(fd: number, size: number): number {
  const chunk = Buffer.alloc(4096);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const length = end - start;
    readSync(fd, chunk, 0, length, start);
    const newline = chunk.subarray(0, length).lastIndexOf(0x0a);
    if (newline >= 0) return start + newline + 1;
    end = start;
  }
  return 0;
}

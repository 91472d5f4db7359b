import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import * as winston from 'winston';

/** Values that must never reach a log line (API keys). Registered by whoever reads them. */
const secrets = new Set<string>();

/** Register a secret (e.g. an API key); every later log line has it replaced by `***`. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) secrets.add(value);
}

/** Replace every registered secret in `text` by `***`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === 'string') info[key] = redactSecrets(value);
  }
  return info;
});

const consoleFormat = winston.format.combine(
  redact(),
  winston.format.timestamp({ format: 'HH:mm:ss' }),
  winston.format.printf(({ timestamp, level, message, stage }) =>
    `${timestamp} ${level.padEnd(5)} ${stage ? `[${stage}] ` : ''}${message}`),
);

const fileFormat = winston.format.combine(redact(), winston.format.timestamp(), winston.format.json());

/**
 * The project's logger: console (stderr, so stdout stays clean for data) plus an optional JSON-lines file.
 * Level from `RRL_LOG_LEVEL` (default `info`).
 */
export const logger: winston.Logger = winston.createLogger({
  level: process.env.RRL_LOG_LEVEL ?? 'info',
  transports: [new winston.transports.Console({ format: consoleFormat, stderrLevels: Object.keys(winston.config.npm.levels) })],
});

/**
 * A transport that appends each formatted line to a file synchronously: a line is on disk once logged, so a run
 * killed while compute holds the event loop keeps its log (winston's File transport writes through an fs stream
 * that only drains when the loop is free).
 */
function appendFileTransport(filename: string): winston.transport {
  mkdirSync(dirname(filename), { recursive: true });
  const stream = new Writable({
    write(line: Buffer, _encoding, done) {
      appendFileSync(filename, line);
      done();
    },
  });
  return new winston.transports.Stream({ stream, format: fileFormat });
}

let fileTransport: winston.transport | undefined;

/** Also write every log line (JSON, with timestamps) to `path`, appended as it is logged; replaces an earlier log file. */
export function setLogFile(path: string | undefined): void {
  if (fileTransport) logger.remove(fileTransport);
  fileTransport = path ? appendFileTransport(path) : undefined;
  if (fileTransport) logger.add(fileTransport);
}

/** Silence console output (tests, or a caller that draws its own progress); the log file is kept. */
export function setConsoleLevel(level: string): void {
  for (const transport of logger.transports) {
    if (transport instanceof winston.transports.Console) transport.level = level;
  }
}

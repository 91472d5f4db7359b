import { SingleBar, Presets } from 'cli-progress';
import { logger } from './logger';

/** A unit of long work: advance it, then stop it. */
export interface Progress {
  /** Set the number of finished steps (absolute) and optional fields shown beside the bar. */
  update(done: number, fields?: Record<string, number | string>): void;
  stop(): void;
}

/** Where progress goes: a live bar on a terminal, periodic log lines otherwise, or nowhere. */
export type ProgressMode = 'auto' | 'bar' | 'log' | 'off';

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function formatFields(fields: Record<string, number | string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
    .join(' ');
}

/**
 * Progress for one stage: `stage step/total rate ETA fields`. On a terminal a bar redraws in place; when output is
 * piped or in CI it logs a line at most every `intervalSeconds` (and at the end), so logs stay readable.
 */
export function startProgress(
  stage: string, total: number, options: { unit?: string; mode?: ProgressMode; intervalSeconds?: number } = {},
): Progress {
  const unit = options.unit ?? 'step';
  let mode = options.mode ?? (process.env.RRL_PROGRESS as ProgressMode | undefined) ?? 'auto';
  if (mode === 'auto') mode = process.stderr.isTTY && !process.env.CI ? 'bar' : 'log';
  if (mode === 'off') return { update() {}, stop() {} };
  if (mode === 'bar') {
    const bar = new SingleBar({
      format: `${stage} |{bar}| {value}/{total} ${unit}s | {rate}/s | ETA {eta_formatted} | {fields}`,
      stream: process.stderr, hideCursor: true, etaBuffer: 20,
    }, Presets.shades_classic);
    const started = Date.now();
    bar.start(total, 0, { rate: '0', fields: '' });
    return {
      update(done, fields = {}) {
        const rate = done / Math.max((Date.now() - started) / 1000, 1e-9);
        bar.update(done, { rate: rate.toFixed(2), fields: formatFields(fields) });
      },
      stop() { bar.stop(); },
    };
  }
  const interval = (options.intervalSeconds ?? 10) * 1000;
  const started = Date.now();
  let lastLog = 0;
  let loggedDone = -1;
  let last = { done: 0, fields: {} as Record<string, number | string> };
  const log = () => {
    const elapsed = (Date.now() - started) / 1000;
    const rate = last.done / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (total - last.done) / rate : Infinity;
    logger.info(`${last.done}/${total} ${unit}s ${rate.toFixed(2)}/s ETA ${formatSeconds(eta)} ${formatFields(last.fields)}`.trimEnd(), { stage });
    lastLog = Date.now();
    loggedDone = last.done;
  };
  return {
    update(done, fields = {}) {
      last = { done, fields };
      if (Date.now() - lastLog >= interval || done >= total) log();
    },
    stop() { if (loggedDone !== last.done) log(); },
  };
}

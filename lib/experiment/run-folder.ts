import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { processIsRunning, writeJsonAtomic } from '../fs';
import { redactSecrets } from '../log/logger';
import type { ExperimentConfig } from './schema';

/** The stages of an experiment, in the order data flows through them. */
export const STAGES = ['data', 'teacher', 'distill', 'rl', 'eval', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/** Which config sections each stage reads; a stage's results are stale when these (or an earlier stage's) change. */
export const STAGE_CONFIG: Record<StageName, (keyof ExperimentConfig)[]> = {
  data: ['seed', 'data'],
  teacher: ['teacher'],
  distill: ['student', 'distill'],
  rl: ['judge', 'rewards', 'rl'],
  eval: ['eval'],
  report: [],
};

/** What the manifest records of one stage. */
export interface StageRecord {
  status: 'running' | 'done' | 'failed';
  /** Hash of the config sections this stage and the earlier ones read. */
  configHash: string;
  /** Those sections as the stage ran with them (what a changed config is compared against). */
  config?: Partial<ExperimentConfig>;
  startedAt: string;
  finishedAt?: string;
  /** Files and folders the stage wrote, relative to the run folder. */
  outputs: Record<string, string>;
  /** Headline numbers (accuracy, reward, ...). */
  summary: Record<string, number | string>;
  error?: string;
}

/** `manifest.json`: the experiment's config and what each stage produced. */
export interface Manifest {
  version: 1;
  experiment: string;
  config: ExperimentConfig;
  createdAt: string;
  updatedAt: string;
  stages: Partial<Record<StageName, StageRecord>>;
}

/** Hash of the config sections stage `stage` depends on, cumulative over the earlier stages. */
export function stageConfigHash(config: ExperimentConfig, stage: StageName): string {
  return createHash('sha256').update(JSON.stringify(stageConfig(config, stage))).digest('hex').slice(0, 16);
}

/** The config sections stage `stage` and the earlier ones read. */
export function stageConfig(config: ExperimentConfig, stage: StageName): Partial<ExperimentConfig> {
  const upto = STAGES.slice(0, STAGES.indexOf(stage) + 1).flatMap((s) => STAGE_CONFIG[s]);
  return Object.fromEntries(upto.map((key) => [key, config[key]]));
}

/** Dotted paths where two configs differ, within the sections stage `stage` depends on. */
export function changedFields(before: unknown, after: unknown, prefix = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(before) || !isObject(after)) return [prefix || '(root)'];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((key) => changedFields(before[key], after[key], prefix ? `${prefix}.${key}` : key));
}

/**
 * One experiment's folder (`<output>/<name>/`): the manifest, a lock against two concurrent runs, and one
 * sub-folder per stage. Every manifest write is atomic, so a crash leaves the last complete manifest.
 */
export class RunFolder {
  readonly root: string;
  private manifestCache: Manifest | undefined;

  constructor(readonly config: ExperimentConfig) {
    this.root = resolve(config.output, config.name);
  }

  /** Absolute path inside the run folder. */
  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** A stage's own folder, created on first use. */
  stageDir(stage: StageName): string {
    const dir = this.path(stage);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  exists(): boolean {
    return existsSync(this.path('manifest.json'));
  }

  manifest(): Manifest {
    if (this.manifestCache) return this.manifestCache;
    const file = this.path('manifest.json');
    if (existsSync(file)) {
      try {
        this.manifestCache = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
      } catch (error) {
        throw new Error(`${file}: cannot read the run manifest (${(error as Error).message})`);
      }
    } else {
      const now = new Date().toISOString();
      this.manifestCache = { version: 1, experiment: this.config.name, config: this.config, createdAt: now, updatedAt: now, stages: {} };
    }
    return this.manifestCache;
  }

  /** Merge `patch` into a stage's record and write the manifest atomically. */
  updateStage(stage: StageName, patch: Partial<StageRecord>): StageRecord {
    const manifest = this.manifest();
    const previous = manifest.stages[stage];
    const record: StageRecord = {
      status: 'running', configHash: stageConfigHash(this.config, stage), config: stageConfig(this.config, stage), startedAt: new Date().toISOString(),
      outputs: {}, summary: {}, ...previous, ...patch,
      // an error may quote a server's answer, which may quote the API key
      ...(patch.error !== undefined ? { error: redactSecrets(patch.error) } : {}),
    };
    manifest.stages[stage] = record;
    manifest.config = this.config;
    manifest.updatedAt = new Date().toISOString();
    mkdirSync(this.root, { recursive: true });
    writeJsonAtomic(this.path('manifest.json'), manifest);
    return record;
  }

  /** Forget a stage's record (its files are overwritten when it runs again). */
  clearStage(stage: StageName): void {
    const manifest = this.manifest();
    delete manifest.stages[stage];
    writeJsonAtomic(this.path('manifest.json'), manifest);
  }

  /**
   * Take the run's lock (`run.lock` holding our pid). A lock left by a process that no longer exists is taken over.
   * Returns the release function.
   */
  lock(): () => void {
    mkdirSync(this.root, { recursive: true });
    const file = this.path('run.lock');
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid && pid !== process.pid && processIsRunning(pid)) {
        throw new RunStateError(`${this.root} is being run by another process (pid ${pid}); wait for it or stop it first`);
      }
    }
    writeFileSync(file, String(process.pid));
    return () => rmSync(file, { force: true });
  }
}

/** A run that cannot go on as asked (locked by another process, stale results, an interrupted stage, missing earlier stages). */
export class RunStateError extends Error {
  override name = 'RunStateError';
}

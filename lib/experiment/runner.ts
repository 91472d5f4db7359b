import { logger, setLogFile } from '../log/logger';
import { MetricsSink } from '../log/metrics';
import { changedFields, RunFolder, RunStateError, STAGES, stageConfig, stageConfigHash, type Manifest, type StageName } from './run-folder';
import type { ExperimentConfig } from './schema';

/** What a stage gets: the config, the run folder, a metrics sink and whether to continue from its checkpoint. */
export interface StageContext {
  config: ExperimentConfig;
  run: RunFolder;
  /** This stage's own folder. */
  dir: string;
  metrics: MetricsSink;
  /** Continue from the stage's last checkpoint (it was interrupted and `--resume` was given). */
  resume: boolean;
  /** Aborted on SIGINT/SIGTERM: a stage checks it between steps, checkpoints and returns. */
  signal: AbortSignal;
  /** Absolute paths of the files an earlier stage wrote. */
  outputsOf(stage: StageName): Record<string, string>;
}

/** What a stage returns: its files (relative to the run folder) and headline numbers. */
export interface StageResult {
  outputs: Record<string, string>;
  summary: Record<string, number | string>;
}

export type StageFunction = (context: StageContext) => Promise<StageResult>;

export interface RunOptions {
  /** Run only these stages (the earlier ones must be done); default: all, skipping the finished ones. */
  stages?: StageName[];
  /** Continue an interrupted stage from its last checkpoint. */
  resume?: boolean;
  /** Discard the selected stages' earlier results and run them again. */
  restart?: boolean;
  signal?: AbortSignal;
  /** The stage implementations (default: the project's own). */
  implementations: Partial<Record<StageName, StageFunction>>;
}

export { RunStateError };

/** Raised by a stage that stopped because the run was aborted; its checkpoint is on disk. */
export class RunInterrupted extends Error {
  override name = 'RunInterrupted';
}

/**
 * Run an experiment's stages in order (data -> teacher -> distill -> rl -> eval -> report), recording each in the
 * run folder's manifest. Finished stages with an unchanged config are skipped; an interrupted stage continues
 * from its checkpoint with `resume`; results made with a different config are never silently reused or replaced.
 * Only results are locked to their config: a stage that failed runs again with a changed config without `restart`.
 */
export async function runExperiment(config: ExperimentConfig, options: RunOptions): Promise<Manifest> {
  const run = new RunFolder(config);
  const release = run.lock();
  setLogFile(run.path('run.log'));
  const metrics = new MetricsSink(run.path('metrics.jsonl'));
  const selected = new Set(options.stages ?? STAGES);
  const signal = options.signal ?? new AbortController().signal;
  const manifest = run.manifest();
  try {
    for (const stage of STAGES) {
      const record = manifest.stages[stage];
      const fresh = record?.configHash === stageConfigHash(config, stage);
      if (!selected.has(stage)) {
        const neededLater = STAGES.slice(STAGES.indexOf(stage) + 1).some((s) => selected.has(s));
        if (neededLater && !(record?.status === 'done' && fresh)) {
          throw new RunStateError(`stage "${stage}" must be done (with this config) before ${[...selected].join(', ')}: `
            + `run it first (rrl run <experiment> --stage ${stage})`);
        }
        continue;
      }
      // A stage that failed holds no results to protect: it runs again, from the start, with the changed config.
      if (record?.status === 'failed' && !fresh && !options.restart) {
        const changed = changedFields(record.config ?? stageConfig(manifest.config, stage), stageConfig(config, stage));
        logger.info(`failed earlier with another config (changed: ${changed.join(', ')}); running it again with this one`, { stage });
      } else if (record && !fresh && !options.restart) {
        // Against the config the stage ran with (the manifest's top-level config is the latest run's).
        const changed = changedFields(record.config ?? stageConfig(manifest.config, stage), stageConfig(config, stage));
        throw new RunStateError(`${run.root}: stage "${stage}" was run with a different config (changed: ${changed.join(', ')}). `
          + 'Pass --restart to run it again with this config (later stages follow), or give the experiment another name.');
      }
      if (record?.status === 'done' && fresh && !options.restart && !options.stages) {
        logger.info(`done earlier, skipping (${formatSummary(record.summary)})`, { stage });
        continue;
      }
      const interrupted = record !== undefined && record.status !== 'done' && fresh;
      if (interrupted && !options.resume && !options.restart) {
        throw new RunStateError(`${run.root}: stage "${stage}" was interrupted (${record.status}). `
          + 'Pass --resume to continue it from its last checkpoint, or --restart to run it again from the start.');
      }
      const resume = interrupted && Boolean(options.resume);
      const implementation = options.implementations[stage];
      if (!implementation) throw new RunStateError(`stage "${stage}" has no implementation`);
      run.updateStage(stage, { status: 'running', configHash: stageConfigHash(config, stage), config: stageConfig(config, stage),
        startedAt: new Date().toISOString(), error: undefined, ...(resume ? {} : { outputs: {}, summary: {} }) });
      if (!resume) metrics.dropStage(stage);
      logger.info(resume ? 'resuming from the last checkpoint' : 'starting', { stage });
      const started = Date.now();
      let result: StageResult;
      try {
        result = await implementation({
          config, run, dir: run.stageDir(stage), metrics, resume, signal,
          outputsOf: (earlier) => Object.fromEntries(Object.entries(manifest.stages[earlier]?.outputs ?? {})
            .map(([key, file]) => [key, run.path(file)])),
        });
      } catch (error) {
        run.updateStage(stage, { status: error instanceof RunInterrupted ? 'running' : 'failed', error: (error as Error).message });
        throw error;
      }
      run.updateStage(stage, { status: 'done', finishedAt: new Date().toISOString(), ...result });
      // Later stages were built on this stage's previous results: they must run again.
      for (const later of STAGES.slice(STAGES.indexOf(stage) + 1)) {
        if (manifest.stages[later] && !selected.has(later)) run.clearStage(later);
      }
      logger.info(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${formatSummary(result.summary)})`, { stage });
    }
    return manifest;
  } finally {
    release();
    setLogFile(undefined);
  }
}

function formatSummary(summary: Record<string, number | string>): string {
  return Object.entries(summary)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`)
    .join(' ');
}

import type { StageName } from '../run-folder';
import type { StageFunction } from '../runner';
import { dataStage } from './data';
import { distillStage } from './distill';
import { evalStage } from './eval';
import { reportStage } from './report';
import { rlStage } from './rl';
import { teacherStage } from './teacher';

/** The project's implementation of every stage. */
export const STAGE_IMPLEMENTATIONS: Record<StageName, StageFunction> = {
  data: dataStage,
  teacher: teacherStage,
  distill: distillStage,
  rl: rlStage,
  eval: evalStage,
  report: reportStage,
};

export { collectReport, writeReport } from './report';
export type { EvalResults } from './eval';

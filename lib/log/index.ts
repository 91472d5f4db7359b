export { logger, setLogFile, setConsoleLevel, registerSecret, redactSecrets } from './logger';
export { startProgress } from './progress';
export type { Progress, ProgressMode } from './progress';
export { MetricsSink, readMetrics } from './metrics';
export type { MetricsRecord } from './metrics';

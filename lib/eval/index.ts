export { renderHtmlReport, renderMarkdownReport, linePlotSvg, movingAverage, smoothingWindow, axisTicks } from './report';
export { compareConditions, compareAllPairs, formatComparison, mcnemarExact, pairedBootstrapCI, seedSummary, nestedSeedSummary, studentTQuantile } from './stats';
export type { PairedComparison, SeedSummary } from './stats';
export type { ReportData, ConditionResult, SampleRow, Series } from './report';
export { isRepetitive, rationaleQuality, sentences } from './quality';
export { Judge, asJudge, type JudgedAnswer } from './judge';
export { predictWithStudent, accuracy, type StudentPrediction } from './predict';

export { renderHtmlReport, renderMarkdownReport, linePlotSvg } from './report';
export type { ReportData, ConditionResult, SampleRow, Series } from './report';
export { isRepetitive, rationaleQuality, sentences } from './quality';
export { Judge, asJudge, type JudgedAnswer } from './judge';
export { predictWithStudent, accuracy, type StudentPrediction } from './predict';

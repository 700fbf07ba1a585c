/** Evaluation: answer letters from replies, accuracy with intervals and baselines, benchmark runs and their files. */
export { accuracyBreakdown, accuracyWithInterval, majorityBreakdown, majorityLetter, type Accuracy, type AccuracyBreakdown, type GradedAnswer, type MajorityBreakdown } from './accuracy.js';
export { answerLetter } from './answerLetter.js';
export { accuracyChart, evaluateBenchmark, writeBenchmarkResult, type BenchmarkResult, type EvalMode, type EvalVariant, type EvaluateOptions, type Prediction } from './benchmark.js';
export { corpusBleu, corpusRougeL, rougeL, tokenizeForMetrics, type BleuOptions } from './openMetrics.js';
export { evaluateOpen, writeOpenResult, type OpenAnswer, type OpenResult } from './open.js';

/** The high-level calls that `wsi-vqa train`, `eval` and `ask` make: one call per command. */
export { trainStage, type DataFileOptions, type StageOptions, type TrainStageOptions, type TrainStageResult, type StageResult, type CompressorStageResult, type VqaStageResult } from './trainStage.js';
export { evaluate, type Evaluation, type EvaluationOptions, type MixedEvaluation, type MultipleChoiceEvaluation, type OpenEvaluation } from './evaluate.js';
export { ask, type AskOptions } from './ask.js';

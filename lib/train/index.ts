/** Training: the config, the loop, checkpoints, progress and the report. */
export { STAGE_LEARNING_RATES, parseTrainConfig, trainConfigSchema, type Stage, type TrainConfig, type TrainConfigInput } from './config.js';
export { FINAL_CHECKPOINT, OPTIMIZER_FILE, TRAINER_STATE_FILE, findCheckpoints, latestCheckpoint, removeUnfinishedCheckpoints, stepCheckpointName, writeCheckpoint, type FoundCheckpoint, type TrainerState } from './checkpoints.js';
export { describeTrainingInputs, fileDigest, folderDigest, type TrainingInputs, WHOLE_FILE_BYTES } from './fingerprint.js';
export { RESUMABLE_CONFIG_CHANGES, makeRunRecord, runDifferences, type RunRecord } from './runRecord.js';
export { resumeFromCheckpoint, type ResumeOptions } from './resume.js';
export { stopOnSignals, type StopOnSignals } from './signals.js';
export { checkStageData, slideClasses } from './stageData.js';
export { AdamW, type OptimizerState, type TrainOptimizer } from './optimizer.js';
export { makeProgress, type Progress, type ProgressMode, type StepMetrics } from './progress.js';
export { trainingSection } from './report.js';
export { cosineWithWarmup } from './schedule.js';
export type { BatchSource, FlatParameters, StepContext, TrainTask, TrainableParameter } from './task.js';
export { METRICS_FILE, readMetrics, train, type TrainOptions, type TrainResult } from './trainer.js';
export { CLASSES_FILE, CLASSIFIER_FILE, COMPRESSOR_FILE, CompressorClassifierTask, slideLabelCollate, type CompressorTaskOptions, type SlideLabelBatch } from './compressorTask.js';
export { ClassifierHead, HEAD_DROPOUT, HEAD_HIDDEN, crossEntropyOnHost, headShapes, type HeadKind, type HeadSaved } from './classifierHead.js';
export { TC_SSA_ROUTER_LOSS, routerLosses, type RouterInputs, type RouterLossTerms, type RouterLossWeights } from './routerLosses.js';

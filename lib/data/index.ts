/** Datasets → typed samples, dataset checks, and the data loader. */
export { checkDataset } from './check.js';
export type { CheckDatasetOptions, DatasetCheck } from './check.js';
export { parseDataset, readDataset } from './dataset.js';
export type { DatasetFormat, DatasetOptions } from './dataset.js';
export { findCaseFeatures, listFeatureFiles, resolveFeaturePath, slideIdOf } from './featurePaths.js';
export { requireFeatureFiles } from './featuresExist.js';
export { DataLoader } from './loader.js';
export type { DataLoaderOptions, LoadedSample } from './loader.js';
export { ANSWER_WITH_LETTER, CAPTION_INSTRUCTION, IMAGE_PLACEHOLDER, choiceLetter, multipleChoicePrompt, stripChoiceLabel, withImagePlaceholder } from './prompt.js';
export type { DatasetProblem, FeatureSource, ParsedDataset, Sample, SampleOrigin, Turn } from './sample.js';
export { sampleProblems } from './validate.js';

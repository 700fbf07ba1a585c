/** The Qwen3 model: Hugging Face configs and checkpoints in and out, and tiny random models. */
export { QWEN3_ARCHITECTURE, parseQwen3Config, qwen3ConfigJson, readQwen3Config, type Qwen3Config, type TorchDtype } from './qwen3Config.js';
export { isNormWeight, qwen3WeightSpecs, type WeightSpec } from './qwen3Weights.js';
export {
  SINGLE_WEIGHTS_FILE,
  STORED_WEIGHT_DTYPE,
  WEIGHTS_INDEX_FILE,
  loadQwen3Checkpoint,
  openQwen3Checkpoint,
  type CheckpointWeight,
  type OpenCheckpointOptions,
  type Qwen3Checkpoint,
  type Qwen3CheckpointReader,
  type WeightDtype,
} from './checkpoint.js';
export { DEFAULT_MAX_SHARD_BYTES, TOKENIZER_FILES, planShards, saveQwen3Checkpoint, type SaveCheckpointOptions } from './checkpointSave.js';
export { QWEN3_VOCAB_SIZE, makeTinyQwen3, randomQwen3Weights, tinyQwen3Config, type TinyQwen3Options } from './tinyQwen3.js';
export { ParameterSet } from './parameterSet.js';
export { Qwen3Model, releaseForward, type ForwardOptions, type ForwardState, type Qwen3Batch } from './qwen3Model.js';
export { generate, scoreContinuations, type GenerateOptions, type GenerationPrompt } from './generate.js';
export { argmax, sampleToken, type SamplingOptions } from './sampling.js';
export { GENERATION_CONFIG_FILE, defaultGenerationConfig, defaultSampling, parseGenerationConfig, readGenerationConfig, stopTokens, type GenerationConfig } from './generationConfig.js';

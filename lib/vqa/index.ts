/** The VQA model: compressor + projector + Qwen3, its training stages 1 and 2, and answering questions. */
export { chatTurns, questionPrompt, vqaCollate } from './batches.js';
export { backwardSlideEmbeddings, embedSlides, releaseSlideEmbeddings, type CompressorTraining, type SlideBatch, type SlideEmbeddings } from './slideTokens.js';
export { VqaModel, type AnswerOptions, type VqaModelSources } from './vqaModel.js';
export { LLM_DIR, PROJECTOR_FILE, TRAINED_COMPRESSOR_FILE, VqaTask, type VqaTaskOptions } from './vqaTask.js';

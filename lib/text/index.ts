/** Text side of the model: the Qwen3 tokenizer, chat rendering with image placeholders, and batch collation. */
export {
  IMAGE_PAD_TOKEN,
  IMAGE_TOKEN,
  QwenTokenizer,
  bundledQwen3TokenizerDir,
  loadTokenizer,
  type EncodingWithOffsets,
  type SpecialTokenIds,
  type TokenizerConfigJson,
  type TokenizerJson,
} from './tokenizer.js';
export {
  IGNORE_LABEL,
  renderChat,
  tokenizeConversation,
  tokenizePrompt,
  type ChatTurn,
  type RenderOptions,
  type TokenizeOptions,
  type TokenizedConversation,
  type TokenizedPrompt,
} from './chat.js';
export { collateConversations, type CollateOptions, type CollateSample, type SlidePatches, type VqaBatch } from './collate.js';
export { lengthGroupedBatches, type LengthGroupOptions } from './length-groups.js';

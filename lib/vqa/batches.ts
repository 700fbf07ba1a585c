/**
 * Samples → what the VQA model takes: chat-templated token ids with K image-pad tokens per
 * slide, labels on the answers, and the slides' patches as one ragged batch.
 */
import type { LoadedSample } from '../data/loader.js';
import type { Sample } from '../data/sample.js';
import { IMAGE_PLACEHOLDER } from '../data/prompt.js';
import { type ChatTurn, tokenizeConversation, tokenizePrompt, type TokenizedPrompt } from '../text/chat.js';
import { type VqaBatch, collateConversations } from '../text/collate.js';
import type { QwenTokenizer } from '../text/tokenizer.js';

/** A sample's turns as chat turns. */
export function chatTurns(sample: Pick<Sample, 'turns'>): ChatTurn[] {
  return sample.turns.map((turn) => ({ role: turn.role, content: turn.text }));
}

/** The data loader's `collate` for training: loaded samples → one {@link VqaBatch}. */
export function vqaCollate(tokenizer: QwenTokenizer, imageTokens: number): (loaded: LoadedSample[]) => VqaBatch {
  return (loaded) =>
    collateConversations(
      loaded.map(({ sample, slides }) => ({ conversation: tokenizeConversation(tokenizer, chatTurns(sample), { imageTokens }), slides })),
      { padId: tokenizer.ids.pad, imageTokens },
    );
}

/**
 * The prompt of a question: its turns up to the last user turn, ready for the answer. `blind`
 * drops the image placeholder, so the model answers from the text alone (the blind baseline).
 */
export function questionPrompt(tokenizer: QwenTokenizer, sample: Pick<Sample, 'turns'>, imageTokens: number, options: { blind?: boolean } = {}): TokenizedPrompt {
  const turns = chatTurns(sample);
  const lastUser = turns.findLastIndex((t) => t.role === 'user');
  const prompt = turns.slice(0, lastUser + 1);
  const shown = options.blind ? prompt.map((t) => ({ ...t, content: t.content.replace(`${IMAGE_PLACEHOLDER}\n`, '').replace(IMAGE_PLACEHOLDER, '') })) : prompt;
  return tokenizePrompt(tokenizer, shown, { imageTokens });
}

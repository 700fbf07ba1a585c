/**
 * Conversations → token ids, through the model folder's chat template.
 *
 * A conversation is rendered by the template as one string (Qwen3: ChatML,
 * `<|im_start|>role\ncontent<|im_end|>\n` per turn) and tokenized as one string, so the ids are
 * exactly those the reference `apply_chat_template(..., tokenize=True)` gives. Each `<image>`
 * placeholder then expands to K image-pad tokens, and the labels mark the answer tokens.
 *
 * Labels are not shifted: `labels[t]` is `inputIds[t]` on an answer token and -100 elsewhere; the
 * loss compares the logits at position t − 1 with `labels[t]`, as Hugging Face's causal-LM loss does.
 */
import { FormatError } from '../errors.js';
import { compileChatTemplate, type ChatTemplate } from './chat-template.js';
import type { QwenTokenizer } from './tokenizer.js';

/** The label of a position the loss ignores (PyTorch's `ignore_index`). */
export const IGNORE_LABEL = -100;

/** One turn of a conversation. `<image>` in a user (or system) turn marks where the slide goes. */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How a conversation is rendered. */
export interface RenderOptions {
  /** End with the assistant header, ready for the model to answer. Default false. */
  addGenerationPrompt?: boolean;
  /** Qwen3 hybrid-thinking templates: false adds an empty `<think>` block to the generation prompt. Default false. */
  enableThinking?: boolean;
}

/** How a conversation is tokenized. */
export interface TokenizeOptions {
  /** K: the image-pad tokens each `<image>` placeholder expands to (slide tokens per slide, 16 by default in the model). */
  imageTokens: number;
  /** A system turn put first when the turns have no system turn of their own. Default: none. */
  systemPrompt?: string;
}

/** A conversation ready for training. All arrays are [T], T = tokens after image expansion. */
export interface TokenizedConversation {
  /** Token ids, int32 [T]. */
  inputIds: Int32Array;
  /** int32 [T]: the token id on answer tokens of every assistant turn (each closing `<|im_end|>` included), -100 elsewhere. */
  labels: Int32Array;
  /** Position of every image-pad token in order: slide i's K tokens are entries i·K … i·K + K − 1. */
  imagePositions: number[];
}

/** A prompt ready for generation: the conversation so far and the assistant header. */
export interface TokenizedPrompt {
  /** Token ids, int32 [T]. */
  inputIds: Int32Array;
  /** Position of every image-pad token in order, as in {@link TokenizedConversation}. */
  imagePositions: number[];
}

const ASSISTANT_HEADER = '<|im_start|>assistant\n';
const TURN_END = '<|im_end|>';
/** What Qwen3 hybrid-thinking templates put before a non-thinking answer (and what the prompt ends with when `enableThinking` is false). */
const EMPTY_THINKING = '<think>\n\n</think>\n\n';

const templates = new WeakMap<QwenTokenizer, ChatTemplate>();

/** The conversation as the tokenizer's chat template writes it (a string, before tokenization). */
export function renderChat(tokenizer: QwenTokenizer, turns: readonly ChatTurn[], options: RenderOptions = {}): string {
  checkTurns(turns);
  let template = templates.get(tokenizer);
  if (template === undefined) {
    if (tokenizer.chatTemplate === undefined) {
      throw new FormatError(`${tokenizer.source}: no chat_template in tokenizer_config.json and no chat_template.jinja`);
    }
    template = compileChatTemplate(tokenizer.chatTemplate);
    templates.set(tokenizer, template);
  }
  return template.render({
    messages: turns.map(({ role, content }) => ({ role, content })),
    add_generation_prompt: options.addGenerationPrompt ?? false,
    enable_thinking: options.enableThinking ?? false,
  });
}

/**
 * Tokenizes a training conversation: the chat template applied to all turns, each `<image>`
 * expanded to K image-pad tokens, labels on the answers.
 *
 * Labelled: every assistant turn's answer and its closing `<|im_end|>` (so the model learns to
 * stop), as Hugging Face / LLaVA / SlideChat (xtuner) trainers do; the `\n` after `<|im_end|>`,
 * the `<|im_start|>assistant\n` header and the empty `<think>` block a Qwen3 hybrid template puts
 * before the last answer are not (the generation prompt supplies them). Nothing is truncated.
 */
export function tokenizeConversation(
  tokenizer: QwenTokenizer,
  turns: readonly ChatTurn[],
  options: TokenizeOptions,
): TokenizedConversation {
  const all = withSystemPrompt(turns, options.systemPrompt);
  const text = renderChat(tokenizer, all).normalize('NFC');
  const answers = answerByteSpans(text, all.filter((t) => t.role === 'assistant').length, tokenizer.source);
  const { ids, byteOffsets, byteLength } = tokenizer.encodeWithOffsets(text);

  let span = 0;
  const isAnswer = ids.map((_, i) => {
    const start = byteOffsets[i];
    const end = byteOffsets[i + 1] ?? byteLength;
    while (span < answers.length && answers[span].end <= start) span++;
    // A token belongs to an answer when it holds any of the answer's bytes.
    return span < answers.length && answers[span].start < end;
  });
  return expandImages(tokenizer, ids, isAnswer, options.imageTokens);
}

/**
 * Tokenizes a prompt for generation: the turns (ending with a user turn) followed by the
 * assistant header, with each `<image>` expanded to K image-pad tokens.
 */
export function tokenizePrompt(
  tokenizer: QwenTokenizer,
  turns: readonly ChatTurn[],
  options: TokenizeOptions & Pick<RenderOptions, 'enableThinking'>,
): TokenizedPrompt {
  if (turns.at(-1)?.role !== 'user') throw new RangeError('turns: a prompt must end with a user turn');
  const all = withSystemPrompt(turns, options.systemPrompt);
  const text = renderChat(tokenizer, all, { addGenerationPrompt: true, enableThinking: options.enableThinking });
  const ids = tokenizer.encode(text);
  const { inputIds, imagePositions } = expandImages(tokenizer, ids, ids.map(() => false), options.imageTokens);
  return { inputIds, imagePositions };
}

function withSystemPrompt(turns: readonly ChatTurn[], systemPrompt: string | undefined): readonly ChatTurn[] {
  if (systemPrompt === undefined || turns.some((t) => t.role === 'system')) return turns;
  return [{ role: 'system', content: systemPrompt }, ...turns];
}

function checkTurns(turns: readonly ChatTurn[]): void {
  if (turns.length === 0) throw new RangeError('turns: a conversation needs at least one turn');
  turns.forEach((turn, i) => {
    if (turn.role !== 'system' && turn.role !== 'user' && turn.role !== 'assistant') {
      throw new TypeError(`turns[${i}].role: expected system, user or assistant, got ${JSON.stringify(turn.role)}`);
    }
    if (typeof turn.content !== 'string') throw new TypeError(`turns[${i}].content: expected a string`);
  });
}

/**
 * UTF-8 byte spans [start, end) of the answers in a rendered conversation: from after
 * `<|im_start|>assistant\n` (and an empty `<think>` block) through the closing `<|im_end|>`.
 */
function answerByteSpans(text: string, assistantTurns: number, source: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  for (let header = text.indexOf(ASSISTANT_HEADER); header >= 0; header = text.indexOf(ASSISTANT_HEADER, header + 1)) {
    let start = header + ASSISTANT_HEADER.length;
    if (text.startsWith(EMPTY_THINKING, start)) start += EMPTY_THINKING.length;
    const close = text.indexOf(TURN_END, start);
    if (close < 0) throw new FormatError(`${source}: the chat template left an assistant turn without ${TURN_END}`);
    const end = close + TURN_END.length;
    spans.push({ start: Buffer.byteLength(text.slice(0, start)), end: Buffer.byteLength(text.slice(0, end)) });
  }
  if (spans.length !== assistantTurns) {
    throw new FormatError(
      `${source}: found ${spans.length} "${ASSISTANT_HEADER.trim()}" headers in the rendered conversation for ${assistantTurns} assistant turns ` +
        '(is the template ChatML, or does a turn contain chat markers?)',
    );
  }
  return spans;
}

/** Replaces each `<image>` id by K image-pad ids; labels are the id where `isAnswer`, else -100. */
function expandImages(
  tokenizer: QwenTokenizer,
  ids: readonly number[],
  isAnswer: readonly boolean[],
  imageTokens: number,
): TokenizedConversation {
  if (!Number.isInteger(imageTokens) || imageTokens < 1) throw new RangeError(`imageTokens: expected a positive integer, got ${imageTokens}`);
  const { image, imagePad } = tokenizer.ids;
  const images = ids.filter((id) => id === image).length;
  const length = ids.length + images * (imageTokens - 1);
  const inputIds = new Int32Array(length);
  const labels = new Int32Array(length).fill(IGNORE_LABEL);
  const imagePositions: number[] = [];
  let t = 0;
  ids.forEach((id, i) => {
    if (id === imagePad) throw new FormatError('the conversation contains <|image_pad|> literally; write <image> where the slide goes');
    if (id !== image) {
      inputIds[t] = id;
      if (isAnswer[i]) labels[t] = id;
      t++;
      return;
    }
    if (isAnswer[i]) throw new FormatError('an assistant turn contains <image>; the slide placeholder belongs in a user turn');
    for (let k = 0; k < imageTokens; k++) {
      imagePositions.push(t);
      inputIds[t++] = imagePad;
    }
  });
  return { inputIds, labels, imagePositions };
}

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  IGNORE_LABEL,
  collateConversations,
  loadTokenizer,
  renderChat,
  tokenizeConversation,
  tokenizePrompt,
  type ChatTurn,
  type QwenTokenizer,
} from '../../lib/text/index.js';

let tokenizer: QwenTokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer();
});

const SYSTEM = 'You are a pathologist.';

describe('renderChat with the Qwen3 template', () => {
  test('writes system + user + assistant in the Qwen3 format', () => {
    const turns: ChatTurn[] = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: 'What is the primary diagnosis?' },
      { role: 'assistant', content: 'Invasive ductal carcinoma.' },
    ];
    // The last answer after the last question gets Qwen3's empty thinking block, as transformers renders it.
    expect(renderChat(tokenizer, turns)).toBe(
      '<|im_start|>system\nYou are a pathologist.<|im_end|>\n' +
        '<|im_start|>user\nWhat is the primary diagnosis?<|im_end|>\n' +
        '<|im_start|>assistant\n<think>\n\n</think>\n\nInvasive ductal carcinoma.<|im_end|>\n',
    );
  });

  test('ends with the assistant header for generation, with an empty thinking block unless thinking is on', () => {
    const turns: ChatTurn[] = [{ role: 'user', content: 'Grade?' }];
    expect(renderChat(tokenizer, turns, { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\nGrade?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    expect(renderChat(tokenizer, turns, { addGenerationPrompt: true, enableThinking: true })).toBe(
      '<|im_start|>user\nGrade?<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  test("keeps an answer's leading spaces, as Python's str.lstrip('\\n') does", () => {
    const turns: ChatTurn[] = [
      { role: 'user', content: 'Grade?' },
      { role: 'assistant', content: ' \tGrade 2. ' },
    ];
    expect(renderChat(tokenizer, turns)).toBe(
      '<|im_start|>user\nGrade?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n \tGrade 2. <|im_end|>\n',
    );
  });

  test('moves reasoning written in the answer into the thinking block', () => {
    const turns: ChatTurn[] = [
      { role: 'user', content: 'Grade?' },
      { role: 'assistant', content: '<think>\n Nuclei are moderately pleomorphic. \n</think>\n\nGrade 2.' },
    ];
    expect(renderChat(tokenizer, turns)).toBe(
      '<|im_start|>user\nGrade?<|im_end|>\n<|im_start|>assistant\n<think>\n Nuclei are moderately pleomorphic. \n</think>\n\nGrade 2.<|im_end|>\n',
    );
  });

  test('rejects turns with an unknown role', () => {
    expect(() => renderChat(tokenizer, [{ role: 'human', content: 'Hi' } as unknown as ChatTurn])).toThrow(TypeError);
  });
});

// A SlideChat-style two-turn conversation: the slide placeholder after the first question.
const SLIDECHAT_TURNS: ChatTurn[] = [
  { role: 'user', content: 'What is the tumor grade?\n<image>' },
  { role: 'assistant', content: 'Grade 2 (moderately differentiated).' },
  { role: 'user', content: 'Is there lymphovascular invasion?' },
  { role: 'assistant', content: 'No.' },
];
const K = 4;

// Its expected tokens, piece by piece. Ids from test/fixtures/text/cross-check-ids.mjs (two
// tokenizer implementations agree; it also checks these pieces joined equal the whole
// conversation encoded at once, `<image>` as 151669).
const IMAGE_PAD = 151655;
const prompt = (ids: number[]) => ids.map((id) => [id, IGNORE_LABEL]);
const answer = (ids: number[]) => ids.map((id) => [id, id]);
const image = () => prompt(Array<number>(K).fill(IMAGE_PAD));
const EXPECTED = [
  // <|im_start|>system\nYou are a pathologist.<|im_end|>\n<|im_start|>user\nWhat is the tumor grade?\n
  ...prompt([151644, 8948, 198, 2610, 525, 264, 1815, 16155, 13, 151645, 198, 151644, 872, 198, 3838, 374, 279, 35154, 11972, 5267]),
  ...image(), // <image> → K × <|image_pad|>
  ...prompt([151645, 198, 151644, 77091, 198]), // <|im_end|>\n<|im_start|>assistant\n
  ...answer([35357, 220, 17, 320, 2593, 261, 2652, 88042, 568, 151645]), // Grade 2 (moderately differentiated).<|im_end|>
  // \n<|im_start|>user\nIs there lymphovascular invasion?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n
  ...prompt([198, 151644, 872, 198, 3872, 1052, 42645, 859, 49704, 29115, 30, 151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271]),
  ...answer([2753, 13, 151645]), // No.<|im_end|>
  ...prompt([198]), // \n
];
const IMAGE_START = 20;

describe('tokenizeConversation', () => {
  test('labels every answer and its <|im_end|>, and nothing else, token by token', () => {
    const conversation = tokenizeConversation(tokenizer, SLIDECHAT_TURNS, { imageTokens: K, systemPrompt: SYSTEM });
    expect(Array.from(conversation.inputIds)).toEqual(EXPECTED.map(([id]) => id));
    expect(Array.from(conversation.labels)).toEqual(EXPECTED.map(([, label]) => label));
    expect(conversation.imagePositions).toEqual([20, 21, 22, 23]);
  });

  test('keeps the label mask through collation next to a shorter sample, token by token', () => {
    const conversation = tokenizeConversation(tokenizer, SLIDECHAT_TURNS, { imageTokens: K, systemPrompt: SYSTEM });
    const short = tokenizeConversation(tokenizer, [SLIDECHAT_TURNS[0], { role: 'assistant', content: 'Grade 2.' }], { imageTokens: K });
    const slide = (patches: number) => ({ features: new Float32Array(patches * 1024).fill(patches), patches });
    const batch = collateConversations(
      [
        { conversation: short, slides: [slide(3)] },
        { conversation, slides: [slide(5)] },
      ],
      { padId: tokenizer.ids.pad, imageTokens: K },
    );
    const T = EXPECTED.length;
    expect(batch.sequenceLength).toBe(T);
    const row = (array: Int32Array, b: number) => Array.from(array.subarray(b * T, (b + 1) * T));
    expect(row(batch.inputIds, 1)).toEqual(EXPECTED.map(([id]) => id));
    expect(row(batch.labels, 1)).toEqual(EXPECTED.map(([, label]) => label));

    const shortLength = short.inputIds.length;
    expect(row(batch.inputIds, 0)).toEqual([...short.inputIds, ...Array<number>(T - shortLength).fill(151643)]);
    expect(row(batch.labels, 0)).toEqual([...short.labels, ...Array<number>(T - shortLength).fill(IGNORE_LABEL)]);
    expect(Array.from(batch.imageTokenIndices)).toEqual([
      ...short.imagePositions,
      ...[0, 1, 2, 3].map((k) => T + IMAGE_START + k),
    ]);
    // The short sample's labels: 'Grade 2.<|im_end|>' after its empty thinking block.
    expect(tokenizer.decode(short.labels.filter((label) => label !== IGNORE_LABEL))).toBe('Grade 2.<|im_end|>');
  });

  test('equals the whole rendered conversation encoded at once, placeholders expanded', () => {
    const conversation = tokenizeConversation(tokenizer, SLIDECHAT_TURNS, { imageTokens: 1 });
    const whole = tokenizer.encode(renderChat(tokenizer, SLIDECHAT_TURNS)).map((id) => (id === tokenizer.ids.image ? IMAGE_PAD : id));
    expect(Array.from(conversation.inputIds)).toEqual(whole);
  });

  test('labels exactly each answer of the real SlideChat samples', () => {
    const samples = JSON.parse(readFileSync(new URL('../fixtures/data/slidechat_train_data_example.json', import.meta.url), 'utf8')) as {
      conversations: { from: 'human' | 'gpt'; value: string }[];
    }[];
    for (const sample of samples) {
      const turns: ChatTurn[] = sample.conversations.map((c) => ({ role: c.from === 'human' ? 'user' : 'assistant', content: c.value }));
      const { inputIds, labels, imagePositions } = tokenizeConversation(tokenizer, turns, { imageTokens: 16 });
      const answers = turns.filter((t) => t.role === 'assistant').map((t) => `${t.content}<|im_end|>`);
      expect(tokenizer.decode(labels.filter((label) => label !== IGNORE_LABEL))).toBe(answers.join(''));
      expect(imagePositions).toHaveLength(16);
      expect(imagePositions.every((p) => inputIds[p] === IMAGE_PAD && labels[p] === IGNORE_LABEL)).toBe(true);
      expect(inputIds.filter((id) => id === IMAGE_PAD)).toHaveLength(16);
    }
  });

  test('uses the conversation’s own system turn over systemPrompt', () => {
    const turns: ChatTurn[] = [{ role: 'system', content: 'Be brief.' }, ...SLIDECHAT_TURNS];
    const conversation = tokenizeConversation(tokenizer, turns, { imageTokens: K, systemPrompt: SYSTEM });
    expect(tokenizer.decode(conversation.inputIds)).toMatch(/^<\|im_start\|>system\nBe brief\.<\|im_end\|>\n<\|im_start\|>user/);
  });

  test('refuses <image> in an answer, a literal <|image_pad|>, and a non-positive K', () => {
    const inAnswer: ChatTurn[] = [
      { role: 'user', content: 'Show it.' },
      { role: 'assistant', content: 'Here: <image>' },
    ];
    expect(() => tokenizeConversation(tokenizer, inAnswer, { imageTokens: K })).toThrow(/assistant turn contains <image>/);
    const literalPad: ChatTurn[] = [{ role: 'user', content: 'x <|image_pad|>' }, { role: 'assistant', content: 'y' }];
    expect(() => tokenizeConversation(tokenizer, literalPad, { imageTokens: K })).toThrow(/<\|image_pad\|> literally/);
    expect(() => tokenizeConversation(tokenizer, SLIDECHAT_TURNS, { imageTokens: 0 })).toThrow(RangeError);
  });
});

describe('tokenizePrompt', () => {
  test('ends with the assistant header and expands the placeholder', () => {
    const prompt = tokenizePrompt(tokenizer, SLIDECHAT_TURNS.slice(0, 3), { imageTokens: K, systemPrompt: SYSTEM });
    const conversation = tokenizeConversation(tokenizer, SLIDECHAT_TURNS, { imageTokens: K, systemPrompt: SYSTEM });
    // The prompt is the training sequence up to the last answer.
    const lastAnswer = conversation.labels.length - 1 - 3;
    expect(Array.from(prompt.inputIds)).toEqual(Array.from(conversation.inputIds.subarray(0, lastAnswer)));
    expect(prompt.imagePositions).toEqual(conversation.imagePositions);
  });

  test('needs a user turn last', () => {
    expect(() => tokenizePrompt(tokenizer, SLIDECHAT_TURNS, { imageTokens: K })).toThrow(/must end with a user turn/);
  });
});

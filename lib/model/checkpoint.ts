/**
 * Reading a Hugging Face Qwen3 model folder: `config.json`, and the weights in one
 * `model.safetensors` or in shards listed by `model.safetensors.index.json`.
 *
 * Opening checks everything before any weight is read: the config, every safetensors header
 * (bounds-checked), the index against the shards, and each expected tensor's presence, shape and
 * dtype against the config. Weights are then read one tensor at a time, shard by shard in file
 * order, so loading never holds more than the converted weights plus one stored tensor.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FormatError, IoError } from '../errors.js';
import { describeFsError } from '../io/fileBytes.js';
import { parseJson } from '../io/jsonText.js';
import { type SafetensorsFile, openSafetensors } from '../io/safetensors.js';
import { type FloatStoredDtype, type StoredDtype, type StoredTensor, toFloatDtype } from '../io/storedTensor.js';
import { type Qwen3Config, readQwen3Config } from './qwen3Config.js';
import { layerOfWeight, qwen3WeightSpecs } from './qwen3Weights.js';

/** The single-file weights of a model folder. */
export const SINGLE_WEIGHTS_FILE = 'model.safetensors';
/** The index of sharded weights: `{metadata: {total_size}, weight_map: {tensor: shard file}}`. */
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

/** Dtypes weights can be loaded as (the tensor dtype names of this library). */
export type WeightDtype = 'f32' | 'bf16' | 'f16';

/** Safetensors dtype name of each {@link WeightDtype}. */
export const STORED_WEIGHT_DTYPE: Readonly<Record<WeightDtype, FloatStoredDtype>> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

const FLOAT_STORED_DTYPES: readonly StoredDtype[] = ['F32', 'BF16', 'F16'];

/** Where one expected weight lies. */
export interface CheckpointWeight {
  /** Hugging Face parameter name. */
  name: string;
  shape: number[];
  /** The dtype it is stored in. */
  storedDtype: FloatStoredDtype;
  /** The safetensors file holding it. */
  file: string;
}

/** Options of {@link openQwen3Checkpoint}. */
export interface OpenCheckpointOptions {
  /** Refuse tensors the model does not have (instead of listing them in `unexpected`). Default false, as transformers only warns. */
  strict?: boolean;
}

/** A Qwen3 model folder opened and checked; weights are read on demand. Close it when done. */
export interface Qwen3CheckpointReader {
  /** The model folder. */
  readonly dir: string;
  readonly config: Qwen3Config;
  /** Every parameter of the model, in declaration order (see `qwen3WeightSpecs`). */
  readonly weights: readonly CheckpointWeight[];
  /** Tensors found that the model does not have, each as `name (file: why)`; empty for a clean checkpoint. */
  readonly unexpected: readonly string[];
  /**
   * Every weight, one at a time, converted to `dtype` (default: as stored), shard by shard in
   * file order. A consumer that copies each tensor away holds one at a time.
   */
  tensors(dtype?: WeightDtype): AsyncGenerator<[name: string, tensor: StoredTensor]>;
  /** One weight, converted to `dtype` (default: as stored). Throws `RangeError` for a name the model does not have. */
  read(name: string, dtype?: WeightDtype): Promise<StoredTensor>;
  /** Closes the weight files. */
  close(): Promise<void>;
}

/**
 * Opens the Qwen3 model folder `dir` and checks it (see the file comment). Throws
 * {@link IoError} when `config.json` or the weights are missing or unreadable, and
 * {@link FormatError} naming the file and tensor for a missing, wrongly shaped or non-float
 * tensor, a lying index, or (with `strict`) a tensor the model does not have.
 */
export async function openQwen3Checkpoint(dir: string, options: OpenCheckpointOptions = {}): Promise<Qwen3CheckpointReader> {
  const config = await readQwen3Config(join(dir, 'config.json'));
  const layout = await readWeightLayout(dir);
  const files = new Map<string, SafetensorsFile>();
  try {
    for (const file of layout.files) files.set(file, await openSafetensors(join(dir, file)));
    const { weights, unexpected } = checkWeights(dir, config, layout, files);
    if (options.strict && unexpected.length > 0) {
      throw new FormatError(`${dir}: tensors the Qwen3 model does not have: ${listSome(unexpected)}`);
    }
    return makeReader(dir, config, weights, unexpected, files);
  } catch (error) {
    await Promise.all([...files.values()].map((f) => f.close()));
    throw error;
  }
}

/** A loaded checkpoint: the config and every weight in host memory. */
export interface Qwen3Checkpoint {
  config: Qwen3Config;
  /** Every parameter by Hugging Face name, in declaration order. */
  weights: Map<string, StoredTensor>;
  /** Tensors found that the model does not have (see {@link Qwen3CheckpointReader.unexpected}). */
  unexpected: string[];
}

/**
 * Reads the whole Qwen3 model folder `dir` into host memory, converting weights to `dtype`
 * (default: as stored; bf16 / f16 → f32 is exact). Peak memory is the converted weights plus one
 * stored tensor. Same checks and errors as {@link openQwen3Checkpoint}.
 */
export async function loadQwen3Checkpoint(dir: string, options: OpenCheckpointOptions & { dtype?: WeightDtype } = {}): Promise<Qwen3Checkpoint> {
  const reader = await openQwen3Checkpoint(dir, options);
  try {
    const read = new Map<string, StoredTensor>();
    for await (const [name, tensor] of reader.tensors(options.dtype)) read.set(name, tensor);
    const weights = new Map(reader.weights.map(({ name }) => [name, read.get(name)!]));
    return { config: reader.config, weights, unexpected: [...reader.unexpected] };
  } finally {
    await reader.close();
  }
}

/** Which files hold the weights, and which tensor each index entry puts where (undefined for a single file). */
interface WeightLayout {
  files: string[];
  index?: { path: string; weightMap: Map<string, string> };
}

async function readWeightLayout(dir: string): Promise<WeightLayout> {
  // transformers looks for the single file first, then the index.
  if (existsSync(join(dir, SINGLE_WEIGHTS_FILE))) return { files: [SINGLE_WEIGHTS_FILE] };
  const indexPath = join(dir, WEIGHTS_INDEX_FILE);
  if (!existsSync(indexPath)) {
    const other = existsSync(join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin is not read: convert it to safetensors)' : '';
    throw new IoError(`${dir}: no ${SINGLE_WEIGHTS_FILE} or ${WEIGHTS_INDEX_FILE}${other}`);
  }
  let text: string;
  try {
    text = await readFile(indexPath, 'utf8');
  } catch (error) {
    throw new IoError(`${indexPath}: cannot read file (${describeFsError(error)})`, { cause: error });
  }
  const index = parseJson(text, indexPath);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError(`${indexPath}: weight_map must be an object of tensor name → shard file`);
  }
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap)) {
    // A shard is a plain file name in the folder: nothing that walks out of it.
    if (typeof file !== 'string' || basename(file) !== file || !file.endsWith('.safetensors')) {
      throw new FormatError(`${indexPath}: weight_map.${name} must be a .safetensors file name in the folder, got ${JSON.stringify(file)}`);
    }
    map.set(name, file);
  }
  // Shards in name order (model-00001-of-…, model-00002-of-…): reading goes through the files in turn.
  return { files: [...new Set(map.values())].sort(), index: { path: indexPath, weightMap: map } };
}

/** Each expected weight's file and stored dtype, after checking names, shapes, dtypes and the index. */
function checkWeights(
  dir: string,
  config: Qwen3Config,
  layout: WeightLayout,
  files: ReadonlyMap<string, SafetensorsFile>,
): { weights: CheckpointWeight[]; unexpected: string[] } {
  const unexpected: string[] = [];
  // Where each tensor lies: by the index when there is one (checked against the shards), else the single file.
  const location = new Map<string, string>();
  if (layout.index) {
    for (const [name, file] of layout.index.weightMap) {
      if (!files.get(file)!.entries.has(name)) {
        throw new FormatError(`${layout.index.path}: weight_map puts tensor ${name} in ${file}, which does not hold it`);
      }
      location.set(name, file);
    }
    for (const [file, opened] of files) {
      for (const name of opened.entries.keys()) {
        if (layout.index.weightMap.get(name) !== file) unexpected.push(`${name} (${file}: not listed there by the index)`);
      }
    }
  } else {
    for (const name of files.get(SINGLE_WEIGHTS_FILE)!.entries.keys()) location.set(name, SINGLE_WEIGHTS_FILE);
  }

  const where = layout.index ? layout.index.path : files.get(SINGLE_WEIGHTS_FILE)!.path;
  // Before a name is built per layer: a config.json claiming a million layers would otherwise
  // take gigabytes and a minute to be told that their tensors are missing.
  const layers = new Set([...location.keys()].map(layerOfWeight).filter((layer) => layer !== undefined));
  if (config.num_hidden_layers > layers.size) {
    throw new FormatError(`${join(dir, 'config.json')}: num_hidden_layers is ${config.num_hidden_layers} but ${where} holds the tensors of ${layers.size} layer${layers.size === 1 ? '' : 's'}`);
  }
  const specs = qwen3WeightSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !location.has(s.name)).map((s) => s.name);
  if (missing.length > 0) throw new FormatError(`${where}: missing tensor${missing.length > 1 ? 's' : ''} ${listSome(missing)}`);
  for (const [name, file] of location) if (!expected.has(name)) unexpected.push(`${name} (${file}: not a Qwen3ForCausalLM parameter)`);

  const weights = specs.map(({ name, shape }): CheckpointWeight => {
    const file = location.get(name)!;
    const opened = files.get(file)!;
    const entry = opened.entries.get(name)!;
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError(`${opened.path}: tensor ${name} has shape [${entry.shape}] but config.json needs [${shape}]`);
    }
    if (!FLOAT_STORED_DTYPES.includes(entry.dtype)) {
      throw new FormatError(`${opened.path}: tensor ${name} is ${entry.dtype}; weights must be F32, BF16 or F16`);
    }
    return { name, shape, storedDtype: entry.dtype as FloatStoredDtype, file };
  });
  return { weights, unexpected };
}

function makeReader(
  dir: string,
  config: Qwen3Config,
  weights: CheckpointWeight[],
  unexpected: string[],
  files: Map<string, SafetensorsFile>,
): Qwen3CheckpointReader {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const read = async (weight: CheckpointWeight, dtype?: WeightDtype): Promise<StoredTensor> => {
    const opened = files.get(weight.file)!;
    const stored = await opened.read(weight.name);
    return dtype === undefined ? stored : toFloatDtype(stored, STORED_WEIGHT_DTYPE[dtype], opened.path, weight.name);
  };
  return {
    dir,
    config,
    weights,
    unexpected,
    async *tensors(dtype?: WeightDtype) {
      for (const [file, opened] of files) {
        // Data order within a shard: sequential reads.
        for (const name of opened.entries.keys()) {
          const weight = byName.get(name);
          if (weight !== undefined && weight.file === file) yield [name, await read(weight, dtype)];
        }
      }
    },
    async read(name: string, dtype?: WeightDtype) {
      const weight = byName.get(name);
      if (weight === undefined) throw new RangeError(`${dir}: the Qwen3 model has no parameter named ${name}`);
      return read(weight, dtype);
    },
    async close() {
      await Promise.all([...files.values()].map((f) => f.close()));
    },
  };
}

/** The first few items of a list, and how many more. */
function listSome(items: readonly string[], shown = 5): string {
  const head = items.slice(0, shown).join(', ');
  return items.length > shown ? `${head} and ${items.length - shown} more` : head;
}

/**
 * The `config.json` of a Hugging Face Qwen3 model (`Qwen3ForCausalLM`), checked key by key.
 *
 * Field names are the Hugging Face keys, so a message, a config file and this type say the same
 * thing. Keys that decide tensor shapes are required (but `num_key_value_heads`, which defaults
 * to `num_attention_heads`); the others default as transformers' `Qwen3Config` does. Features the model code does not compute (attention biases, sliding-window
 * attention, scaled RoPE, other activations) are refused here, naming the key, rather than
 * silently computed wrong later. Both transformers 4.x (`rope_theta`, `torch_dtype`) and 5.x
 * (`rope_parameters`, `dtype`) spellings are read.
 */
import { readFile } from 'node:fs/promises';
import { FormatError, IoError, UnsupportedError } from '../errors.js';
import { describeFsError } from '../io/fileBytes.js';
import { parseJson } from '../io/jsonText.js';

/** The only architecture read: dense Qwen3 with a language-model head. */
export const QWEN3_ARCHITECTURE = 'Qwen3ForCausalLM';

/** Floating dtypes a checkpoint's weights may be stored in, as config.json names them. */
export type TorchDtype = 'float32' | 'bfloat16' | 'float16';

/** A validated Qwen3 config. */
export interface Qwen3Config {
  /** Rows of the embedding (and of the LM head): 151 936 for released Qwen3 models. */
  vocab_size: number;
  /** Width of the residual stream. */
  hidden_size: number;
  /** Width of the SwiGLU MLP (gate and up projections). */
  intermediate_size: number;
  /** Decoder layers. */
  num_hidden_layers: number;
  /** Query heads. */
  num_attention_heads: number;
  /** Key/value heads (grouped-query attention); divides `num_attention_heads`. */
  num_key_value_heads: number;
  /** Width of one attention head (even: RoPE rotates halves). May differ from hidden / heads. */
  head_dim: number;
  /** ε of every RMSNorm. Default 1e-6. */
  rms_norm_eps: number;
  /** RoPE base θ. Default 10 000. */
  rope_theta: number;
  /** Longest sequence the model was trained for. Default 32 768. */
  max_position_embeddings: number;
  /** Whether the LM head reuses the embedding matrix (no `lm_head.weight` then). Default false. */
  tie_word_embeddings: boolean;
  /** The dtype the weights were saved in. Default float32. */
  torch_dtype: TorchDtype;
  /** Std of the normal initialisation of linear and embedding weights. Default 0.02. */
  initializer_range: number;
  /** Beginning-of-sequence id, or null. */
  bos_token_id: number | null;
  /** End-of-sequence id(s), or null. */
  eos_token_id: number | number[] | null;
  /** Padding id, or null. */
  pad_token_id: number | null;
  /** Keys this library does not interpret (`transformers_version`, `use_cache`, …), written back unchanged. */
  extra: Readonly<Record<string, unknown>>;
}

/** Keys the parser interprets; every other key is kept in `extra`. */
const INTERPRETED_KEYS = new Set([
  'architectures',
  'model_type',
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'rms_norm_eps',
  'rope_theta',
  'rope_scaling',
  'rope_parameters',
  'max_position_embeddings',
  'tie_word_embeddings',
  'torch_dtype',
  'dtype',
  'initializer_range',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'hidden_act',
  'attention_bias',
  'use_sliding_window',
]);

const TORCH_DTYPES: readonly TorchDtype[] = ['float32', 'bfloat16', 'float16'];

/** Reads and checks `path` (a model folder's `config.json`). Errors name the file and the key. */
export async function readQwen3Config(path: string): Promise<Qwen3Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  }
  return parseQwen3Config(parseJson(text, path), path);
}

/**
 * Checks a parsed `config.json`. `source` (a file path) labels errors.
 * Throws {@link FormatError} for a missing or ill-typed key, {@link UnsupportedError} for another
 * architecture or a feature the model code does not compute; both name `source` and the key.
 */
export function parseQwen3Config(json: unknown, source: string): Qwen3Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(`${source}: a config must be a JSON object`);
  const keys = new ConfigKeys(json as Record<string, unknown>, source);
  keys.checkArchitecture();

  const num_hidden_layers = keys.positiveInteger('num_hidden_layers');
  const num_attention_heads = keys.positiveInteger('num_attention_heads');
  const num_key_value_heads = keys.positiveInteger('num_key_value_heads', num_attention_heads);
  if (num_attention_heads % num_key_value_heads !== 0) {
    keys.fail('num_key_value_heads', `must divide num_attention_heads (${num_attention_heads}), got ${num_key_value_heads}`);
  }
  // transformers 4.x defaults a missing head_dim to 128, later versions to hidden / heads: a
  // config without it is ambiguous, so it is required.
  const head_dim = keys.positiveInteger('head_dim');
  if (head_dim % 2 !== 0) keys.fail('head_dim', `must be even (rotary embedding rotates halves), got ${head_dim}`);
  const vocab_size = keys.positiveInteger('vocab_size');

  keys.requireValue('hidden_act', 'silu', 'only the SiLU (SwiGLU) MLP is implemented');
  keys.requireValue('attention_bias', false, 'Qwen3 attention has no biases and none are implemented');
  keys.requireValue('use_sliding_window', false, 'sliding-window attention is not implemented');
  keys.checkLayerTypes(num_hidden_layers);

  const config: Qwen3Config = {
    vocab_size,
    hidden_size: keys.positiveInteger('hidden_size'),
    intermediate_size: keys.positiveInteger('intermediate_size'),
    num_hidden_layers,
    num_attention_heads,
    num_key_value_heads,
    head_dim,
    rms_norm_eps: keys.positiveNumber('rms_norm_eps', 1e-6),
    rope_theta: keys.ropeTheta(),
    max_position_embeddings: keys.positiveInteger('max_position_embeddings', 32768),
    tie_word_embeddings: keys.boolean('tie_word_embeddings', false),
    torch_dtype: keys.torchDtype(),
    initializer_range: keys.positiveNumber('initializer_range', 0.02),
    bos_token_id: keys.tokenId('bos_token_id', vocab_size),
    eos_token_id: keys.tokenIds('eos_token_id', vocab_size),
    pad_token_id: keys.tokenId('pad_token_id', vocab_size),
    extra: keys.uninterpreted(),
  };
  return config;
}

/**
 * The JSON object to write as `config.json` for `config`: what transformers needs to build a
 * `Qwen3ForCausalLM`, plus the config's uninterpreted keys.
 */
export function qwen3ConfigJson(config: Qwen3Config): Record<string, unknown> {
  const { extra, ...fields } = config;
  return {
    architectures: [QWEN3_ARCHITECTURE],
    model_type: 'qwen3',
    ...fields,
    hidden_act: 'silu',
    attention_bias: false,
    rope_scaling: null,
    use_sliding_window: false,
    ...extra,
  };
}

/** Typed reads of one config object's keys; every error names the file and the key. */
class ConfigKeys {
  constructor(
    private readonly json: Record<string, unknown>,
    private readonly source: string,
  ) {}

  fail(key: string, problem: string): never {
    throw new FormatError(`${this.source}: ${key} ${problem}`);
  }

  unsupported(key: string, problem: string): never {
    throw new UnsupportedError(`${this.source}: ${key} ${problem}`);
  }

  /** `model_type` must be qwen3; `architectures`, when present, must name Qwen3ForCausalLM. */
  checkArchitecture(): void {
    const { model_type: modelType, architectures } = this.json;
    if (architectures !== undefined && architectures !== null) {
      if (!Array.isArray(architectures) || !architectures.every((a) => typeof a === 'string')) {
        this.fail('architectures', `must be a list of class names, got ${JSON.stringify(architectures)}`);
      }
      if (!architectures.includes(QWEN3_ARCHITECTURE)) {
        this.unsupported('architectures', `is ${JSON.stringify(architectures)}: only ${QWEN3_ARCHITECTURE} (dense Qwen3) is supported`);
      }
    }
    if (modelType === undefined) this.fail('model_type', 'is missing (expected "qwen3")');
    if (modelType !== 'qwen3') this.unsupported('model_type', `is ${JSON.stringify(modelType)}: only "qwen3" (dense Qwen3) is supported`);
  }

  positiveInteger(key: string, fallback?: number): number {
    const value = this.json[key] ?? fallback;
    if (value === undefined) this.fail(key, 'is missing');
    if (!Number.isSafeInteger(value) || (value as number) <= 0) this.fail(key, `must be a positive integer, got ${JSON.stringify(value)}`);
    return value as number;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.json[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(key, `must be a positive number, got ${JSON.stringify(value)}`);
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.json[key] ?? fallback;
    if (typeof value !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A key that, when present, must equal `expected` (a feature the model code does not compute otherwise). */
  requireValue(key: string, expected: string | boolean, reason: string): void {
    const value = this.json[key];
    if (value !== undefined && value !== null && value !== expected) this.unsupported(key, `is ${JSON.stringify(value)}: ${reason}`);
  }

  /** transformers ≥ 4.53 lists each layer's attention kind; only full attention is implemented. */
  checkLayerTypes(layers: number): void {
    const types = this.json.layer_types;
    if (types === undefined || types === null) return;
    if (!Array.isArray(types) || types.length !== layers) this.fail('layer_types', `must list one entry per layer (${layers}), got ${JSON.stringify(types)}`);
    const other = types.findIndex((t) => t !== 'full_attention');
    if (other >= 0) this.unsupported(`layer_types[${other}]`, `is ${JSON.stringify(types[other])}: only full_attention is implemented`);
  }

  /** θ from `rope_theta` (4.x) or `rope_parameters.rope_theta` (5.x); scaled RoPE is refused. */
  ropeTheta(): number {
    const scaling = this.json.rope_scaling;
    if (scaling !== undefined && scaling !== null) this.checkDefaultRope('rope_scaling', scaling);
    const parameters = this.json.rope_parameters;
    if (parameters !== undefined && parameters !== null) {
      this.checkDefaultRope('rope_parameters', parameters);
      const theta = (parameters as Record<string, unknown>).rope_theta;
      if (theta !== undefined) {
        if (typeof theta !== 'number' || !(theta > 0)) this.fail('rope_parameters.rope_theta', `must be a positive number, got ${JSON.stringify(theta)}`);
        return theta;
      }
    }
    return this.positiveNumber('rope_theta', 10000);
  }

  private checkDefaultRope(key: string, value: unknown): void {
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(key, `must be an object or null, got ${JSON.stringify(value)}`);
    const record = value as Record<string, unknown>;
    const type = record.rope_type ?? record.type ?? 'default';
    if (type !== 'default') this.unsupported(`${key}.rope_type`, `is ${JSON.stringify(type)}: only the default (unscaled) rotary embedding is implemented`);
  }

  /** `torch_dtype` (4.x) or `dtype` (≥ 4.56). */
  torchDtype(): TorchDtype {
    const key = this.json.torch_dtype !== undefined ? 'torch_dtype' : 'dtype';
    const value = this.json[key] ?? 'float32';
    if (!TORCH_DTYPES.includes(value as TorchDtype)) this.fail(key, `must be one of ${TORCH_DTYPES.join(', ')}, got ${JSON.stringify(value)}`);
    return value as TorchDtype;
  }

  tokenId(key: string, vocabSize: number): number | null {
    const value = this.json[key] ?? null;
    if (value === null) return null;
    if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) >= vocabSize) {
      this.fail(key, `must be a token id below vocab_size (${vocabSize}) or null, got ${JSON.stringify(value)}`);
    }
    return value as number;
  }

  tokenIds(key: string, vocabSize: number): number | number[] | null {
    const value = this.json[key];
    if (!Array.isArray(value)) return this.tokenId(key, vocabSize);
    value.forEach((id, i) => {
      if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) this.fail(`${key}[${i}]`, `must be a token id below vocab_size (${vocabSize}), got ${JSON.stringify(id)}`);
    });
    return [...(value as number[])];
  }

  uninterpreted(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.json).filter(([key]) => !INTERPRETED_KEYS.has(key)));
  }
}

/**
 * Small random Qwen3 checkpoints for tests and demos: any size the config allows, initialised as
 * transformers initialises `Qwen3ForCausalLM` (linear and embedding weights ~ N(0, 0.02²), RMSNorm
 * scales 1), deterministic by seed, with the real Qwen3 tokenizer files.
 */
import { bundledQwen3TokenizerDir, loadTokenizer } from '../text/tokenizer.js';
import type { StoredTensor } from '../io/storedTensor.js';
import { toFloatDtype } from '../io/storedTensor.js';
import { STORED_WEIGHT_DTYPE, type WeightDtype } from './checkpoint.js';
import { saveQwen3Checkpoint } from './checkpointSave.js';
import { type Qwen3Config, parseQwen3Config } from './qwen3Config.js';
import { isNormWeight, qwen3WeightSpecs } from './qwen3Weights.js';
import { mulberry32, normalSamples } from '../random.js';

/** Rows of the embedding of released Qwen3 models: the tokenizer's ids padded up to a multiple of 128 (and more). */
export const QWEN3_VOCAB_SIZE = 151_936;

/** The shape of a tiny Qwen3 model. */
export interface TinyQwen3Options {
  hiddenSize: number;
  /** Decoder layers. */
  layers: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads; divides `heads`. */
  kvHeads: number;
  /** Width of one head (even). */
  headDim: number;
  intermediateSize: number;
  /** Embedding rows, at least the tokenizer's ids (151 670 with `<image>`). Default {@link QWEN3_VOCAB_SIZE}. */
  vocabSize?: number;
  /** Seed of the random weights: the same seed and sizes give the same bits. */
  seed: number;
  /** Dtype the weights are written in. Default f32. */
  dtype?: WeightDtype;
  /** Whether the LM head is the embedding (as in Qwen3-0.6B … 4B). Default true. */
  tieWordEmbeddings?: boolean;
  /** RoPE θ. Default 1 000 000 (Qwen3 models below 4B-2507). */
  ropeTheta?: number;
  /** Default 40 960 (as Qwen3 configs). */
  maxPositionEmbeddings?: number;
}

/**
 * The config of a tiny Qwen3 model (checked like any config.json). Token ids: bos
 * `<|endoftext|>` 151643, eos `<|im_end|>` 151645, as in Qwen3 instruct configs.
 */
export function tinyQwen3Config(options: TinyQwen3Options, ids = { bos: 151643, eos: 151645 }): Qwen3Config {
  return parseQwen3Config(
    {
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      vocab_size: options.vocabSize ?? QWEN3_VOCAB_SIZE,
      hidden_size: options.hiddenSize,
      intermediate_size: options.intermediateSize,
      num_hidden_layers: options.layers,
      num_attention_heads: options.heads,
      num_key_value_heads: options.kvHeads,
      head_dim: options.headDim,
      rms_norm_eps: 1e-6,
      rope_theta: options.ropeTheta ?? 1_000_000,
      max_position_embeddings: options.maxPositionEmbeddings ?? 40_960,
      tie_word_embeddings: options.tieWordEmbeddings ?? true,
      torch_dtype: { f32: 'float32', bf16: 'bfloat16', f16: 'float16' }[options.dtype ?? 'f32'],
      initializer_range: 0.02,
      bos_token_id: ids.bos,
      eos_token_id: ids.eos,
    },
    'tinyQwen3Config',
  );
}

/**
 * Random weights for `config`, as transformers initialises them: every matrix ~ N(0,
 * initializer_range²), every RMSNorm scale 1, in `dtype` (rounded from f32, nearest even).
 * Each tensor draws from its own stream, seeded by `seed` and its name, so a tensor's values
 * do not depend on how many layers come before it.
 */
export function randomQwen3Weights(config: Qwen3Config, seed: number, dtype: WeightDtype = 'f32'): Map<string, StoredTensor> {
  const weights = new Map<string, StoredTensor>();
  for (const { name, shape } of qwen3WeightSpecs(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = isNormWeight(name) ? new Float32Array(count).fill(1) : normalSamples(count, config.initializer_range, mulberry32(streamSeed(seed, name)));
    weights.set(name, toFloatDtype({ dtype: 'F32', shape, data: values }, STORED_WEIGHT_DTYPE[dtype], 'randomQwen3Weights', name));
  }
  return weights;
}

/**
 * Writes a random tiny Qwen3 model folder at `dir` (config.json, model.safetensors,
 * generation_config.json, and the real Qwen3 tokenizer files) and returns its config.
 * Throws `RangeError` when `vocabSize` is below the tokenizer's ids, or for sizes the config refuses.
 */
export async function makeTinyQwen3(dir: string, options: TinyQwen3Options): Promise<Qwen3Config> {
  const tokenizer = await loadTokenizer(bundledQwen3TokenizerDir());
  const vocabSize = options.vocabSize ?? QWEN3_VOCAB_SIZE;
  if (vocabSize < tokenizer.vocabSize) {
    throw new RangeError(`makeTinyQwen3: 'vocabSize' ${vocabSize} is below the tokenizer's ${tokenizer.vocabSize} ids`);
  }
  const config = tinyQwen3Config(options, { bos: tokenizer.ids.endOfText, eos: tokenizer.ids.imEnd });
  const dtype = options.dtype ?? 'f32';
  await saveQwen3Checkpoint(dir, {
    config,
    weights: randomQwen3Weights(config, options.seed, dtype),
    dtype,
    copyFrom: tokenizer.source,
    // As Qwen3 instruct models: stop on <|im_end|> or <|endoftext|>, pad with <|endoftext|>.
    generationConfig: {
      bos_token_id: tokenizer.ids.endOfText,
      eos_token_id: [tokenizer.ids.imEnd, tokenizer.ids.endOfText],
      pad_token_id: tokenizer.ids.pad,
    },
  });
  return config;
}

/** A 32-bit seed from the model seed and a tensor name (FNV-1a over the name, mixed with the seed). */
function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The parameters of a Hugging Face `Qwen3ForCausalLM`: every tensor name, in the order the
 * model declares them, with the shape its config gives it. Linear weights are [out, in].
 */
import type { Qwen3Config } from './qwen3Config.js';

/** One parameter's name and shape. */
export interface WeightSpec {
  /** The Hugging Face state-dict name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  shape: number[];
}

/**
 * Every parameter of the model `config` describes, in declaration order:
 * - `model.embed_tokens.weight` [vocab, hidden]
 * - per layer i, under `model.layers.{i}.`: `self_attn.q_proj.weight` [heads·head_dim, hidden],
 *   `self_attn.k_proj.weight` and `self_attn.v_proj.weight` [kv_heads·head_dim, hidden],
 *   `self_attn.o_proj.weight` [hidden, heads·head_dim], `self_attn.q_norm.weight` and
 *   `self_attn.k_norm.weight` [head_dim]; `mlp.gate_proj.weight` and `mlp.up_proj.weight`
 *   [intermediate, hidden], `mlp.down_proj.weight` [hidden, intermediate];
 *   `input_layernorm.weight` and `post_attention_layernorm.weight` [hidden]
 * - `model.norm.weight` [hidden]
 * - `lm_head.weight` [vocab, hidden], absent when `tie_word_embeddings` (the head is the embedding).
 */
export function qwen3WeightSpecs(config: Qwen3Config): WeightSpec[] {
  const { vocab_size: vocab, hidden_size: hidden, intermediate_size: mlp, head_dim: headDim } = config;
  const qWidth = config.num_attention_heads * headDim;
  const kvWidth = config.num_key_value_heads * headDim;
  const specs: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [vocab, hidden] }];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const layer = `model.layers.${i}`;
    specs.push(
      { name: `${layer}.self_attn.q_proj.weight`, shape: [qWidth, hidden] },
      { name: `${layer}.self_attn.k_proj.weight`, shape: [kvWidth, hidden] },
      { name: `${layer}.self_attn.v_proj.weight`, shape: [kvWidth, hidden] },
      { name: `${layer}.self_attn.o_proj.weight`, shape: [hidden, qWidth] },
      { name: `${layer}.self_attn.q_norm.weight`, shape: [headDim] },
      { name: `${layer}.self_attn.k_norm.weight`, shape: [headDim] },
      { name: `${layer}.mlp.gate_proj.weight`, shape: [mlp, hidden] },
      { name: `${layer}.mlp.up_proj.weight`, shape: [mlp, hidden] },
      { name: `${layer}.mlp.down_proj.weight`, shape: [hidden, mlp] },
      { name: `${layer}.input_layernorm.weight`, shape: [hidden] },
      { name: `${layer}.post_attention_layernorm.weight`, shape: [hidden] },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [hidden] });
  if (!config.tie_word_embeddings) specs.push({ name: 'lm_head.weight', shape: [vocab, hidden] });
  return specs;
}

/** The decoder layer a parameter name belongs to (`model.layers.{i}.…`), or undefined for the others. */
export function layerOfWeight(name: string): number | undefined {
  const match = /^model\.layers\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Whether a parameter is an RMSNorm scale (initialised to ones) rather than a matrix (normal, std `initializer_range`). */
export function isNormWeight(name: string): boolean {
  return name.endsWith('norm.weight');
}

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledQwen3TokenizerDir, loadTokenizer } from '../../lib/text/tokenizer.js';
import { loadQwen3Checkpoint } from '../../lib/model/checkpoint.js';
import { QWEN3_VOCAB_SIZE, makeTinyQwen3, randomQwen3Weights, tinyQwen3Config } from '../../lib/model/tinyQwen3.js';
import { tempDir } from '../io/helpers.js';

const SIZES = { hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, intermediateSize: 128 };

function meanAndStd(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  let squares = 0;
  for (const v of values) {
    sum += v;
    squares += v * v;
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(squares / values.length - mean * mean) };
}

describe('tiny Qwen3', () => {
  it('writes a loadable model folder with the real Qwen3 tokenizer', async () => {
    const dir = join(tempDir(), 'tiny');
    const config = await makeTinyQwen3(dir, { ...SIZES, seed: 1, dtype: 'bf16' });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readFileSync(join(dir, 'tokenizer.json')).equals(readFileSync(join(bundledQwen3TokenizerDir(), 'tokenizer.json')))).toBe(true);
    expect(config).toMatchObject({ vocab_size: QWEN3_VOCAB_SIZE, hidden_size: 64, num_key_value_heads: 2, head_dim: 16, torch_dtype: 'bfloat16', bos_token_id: 151643, eos_token_id: 151645, tie_word_embeddings: true });
    expect(JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'))).toEqual({ bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151643 });

    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.source).toBe(dir);
    expect(tokenizer.encode('<|im_start|>user\nWhat is the primary diagnosis?<|im_end|>')).toEqual([151644, 872, 198, 3838, 374, 279, 6028, 22982, 30, 151645]);
    expect(tokenizer.vocabSize).toBeLessThanOrEqual(config.vocab_size);

    const loaded = await loadQwen3Checkpoint(dir, { dtype: 'f32' });
    expect(loaded.config).toEqual(config);
    // Initialised as transformers does: N(0, 0.02²) matrices, unit norm scales.
    const embedding = meanAndStd(loaded.weights.get('model.embed_tokens.weight')!.data as Float32Array);
    expect(Math.abs(embedding.mean)).toBeLessThan(1e-4);
    expect(embedding.std).toBeCloseTo(0.02, 4);
    const down = meanAndStd(loaded.weights.get('model.layers.1.mlp.down_proj.weight')!.data as Float32Array);
    expect(down.std).toBeGreaterThan(0.019);
    expect(down.std).toBeLessThan(0.021);
    for (const name of ['model.norm.weight', 'model.layers.0.self_attn.q_norm.weight', 'model.layers.1.post_attention_layernorm.weight']) {
      expect([...(loaded.weights.get(name)!.data as Float32Array)].every((v) => v === 1), name).toBe(true);
    }
  });

  it('is deterministic by seed, each tensor independent of the others', () => {
    const config = tinyQwen3Config({ ...SIZES, vocabSize: 300, seed: 0 }, { bos: 0, eos: 1 });
    const a = randomQwen3Weights(config, 5);
    const b = randomQwen3Weights(config, 5);
    const c = randomQwen3Weights(config, 6);
    const name = 'model.layers.1.self_attn.o_proj.weight';
    expect(a.get(name)!.data).toEqual(b.get(name)!.data);
    expect(a.get(name)!.data).not.toEqual(c.get(name)!.data);
    expect(a.get(name)!.data).not.toEqual(a.get('model.layers.0.self_attn.o_proj.weight')!.data);
    // A deeper model keeps the same values for the layers both have.
    const deeper = randomQwen3Weights(tinyQwen3Config({ ...SIZES, layers: 3, vocabSize: 300, seed: 0 }, { bos: 0, eos: 1 }), 5);
    expect(deeper.get(name)!.data).toEqual(a.get(name)!.data);
  });

  it('refuses a vocabulary smaller than the tokenizer, and sizes the config refuses', async () => {
    const dir = join(tempDir(), 'small');
    await expect(makeTinyQwen3(dir, { ...SIZES, vocabSize: 151_000, seed: 0 })).rejects.toThrow("'vocabSize' 151000 is below the tokenizer's 151670 ids");
    await expect(makeTinyQwen3(dir, { ...SIZES, kvHeads: 3, seed: 0 })).rejects.toThrow(/num_key_value_heads must divide num_attention_heads \(4\), got 3/);
  });
});

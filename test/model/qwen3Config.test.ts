import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, IoError, UnsupportedError } from '../../lib/errors.js';
import { parseQwen3Config, qwen3ConfigJson, readQwen3Config } from '../../lib/model/qwen3Config.js';
import { tempDir } from '../io/helpers.js';

/** The config.json of Qwen/Qwen3-4B-Instruct-2507, as published (transformers 4.51 spelling). */
const QWEN3_4B_INSTRUCT_2507 = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 2560,
  initializer_range: 0.02,
  intermediate_size: 9728,
  max_position_embeddings: 262144,
  max_window_layers: 36,
  model_type: 'qwen3',
  num_attention_heads: 32,
  num_hidden_layers: 36,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 5000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

describe('Qwen3 config', () => {
  it('reads the Qwen3-4B-Instruct-2507 config', () => {
    const config = parseQwen3Config(QWEN3_4B_INSTRUCT_2507, 'config.json');
    expect(config).toMatchObject({
      vocab_size: 151936,
      hidden_size: 2560,
      intermediate_size: 9728,
      num_hidden_layers: 36,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 128,
      rms_norm_eps: 1e-6,
      rope_theta: 5e6,
      max_position_embeddings: 262144,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      bos_token_id: 151643,
      eos_token_id: 151645,
      pad_token_id: null,
    });
    expect(config.extra).toEqual({
      attention_dropout: 0,
      max_window_layers: 36,
      sliding_window: null,
      transformers_version: '4.51.0',
      use_cache: true,
    });
  });

  it('reads the transformers 5 spelling (rope_parameters, dtype, layer_types) and eos lists', () => {
    const { rope_theta: _theta, torch_dtype: _dtype, ...rest } = QWEN3_4B_INSTRUCT_2507;
    const config = parseQwen3Config(
      {
        ...rest,
        rope_parameters: { rope_type: 'default', rope_theta: 1e6 },
        dtype: 'float16',
        layer_types: Array(36).fill('full_attention'),
        eos_token_id: [151645, 151643],
      },
      'config.json',
    );
    expect(config.rope_theta).toBe(1e6);
    expect(config.torch_dtype).toBe('float16');
    expect(config.eos_token_id).toEqual([151645, 151643]);
  });

  it('defaults what transformers defaults, and requires what decides shapes', () => {
    const { rms_norm_eps, rope_theta, num_key_value_heads, tie_word_embeddings, torch_dtype, ...rest } = QWEN3_4B_INSTRUCT_2507;
    const config = parseQwen3Config(rest, 'c.json');
    expect(config).toMatchObject({ rms_norm_eps: 1e-6, rope_theta: 10000, num_key_value_heads: 32, tie_word_embeddings: false, torch_dtype: 'float32' });
    for (const key of ['hidden_size', 'head_dim', 'vocab_size', 'num_hidden_layers', 'model_type']) {
      const without: Record<string, unknown> = { ...QWEN3_4B_INSTRUCT_2507 };
      delete without[key];
      expect(() => parseQwen3Config(without, '/m/config.json')).toThrow(new RegExp(`^/m/config\\.json: ${key} is missing`));
    }
  });

  it('names the file and the key of every bad value', () => {
    const cases: [Record<string, unknown>, typeof FormatError | typeof UnsupportedError, RegExp][] = [
      [{ hidden_size: 0 }, FormatError, /hidden_size must be a positive integer, got 0/],
      [{ intermediate_size: '9728' }, FormatError, /intermediate_size must be a positive integer, got "9728"/],
      [{ num_key_value_heads: 5 }, FormatError, /num_key_value_heads must divide num_attention_heads \(32\), got 5/],
      [{ head_dim: 127 }, FormatError, /head_dim must be even/],
      [{ rms_norm_eps: -1 }, FormatError, /rms_norm_eps must be a positive number, got -1/],
      [{ tie_word_embeddings: 'yes' }, FormatError, /tie_word_embeddings must be true or false/],
      [{ torch_dtype: 'float64' }, FormatError, /torch_dtype must be one of float32, bfloat16, float16, got "float64"/],
      [{ eos_token_id: 151936 }, FormatError, /eos_token_id must be a token id below vocab_size \(151936\)/],
      [{ eos_token_id: [151645, -1] }, FormatError, /eos_token_id\[1\] must be a token id/],
      [{ layer_types: ['full_attention'] }, FormatError, /layer_types must list one entry per layer \(36\)/],
      [{ architectures: ['LlamaForCausalLM'] }, UnsupportedError, /architectures is \["LlamaForCausalLM"\]: only Qwen3ForCausalLM/],
      [{ model_type: 'qwen3_moe' }, UnsupportedError, /model_type is "qwen3_moe"/],
      [{ attention_bias: true }, UnsupportedError, /attention_bias is true/],
      [{ use_sliding_window: true }, UnsupportedError, /use_sliding_window is true: sliding-window attention is not implemented/],
      [{ hidden_act: 'gelu' }, UnsupportedError, /hidden_act is "gelu"/],
      [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, UnsupportedError, /rope_scaling.rope_type is "yarn"/],
      [{ rope_parameters: { rope_type: 'linear', rope_theta: 1e6 } }, UnsupportedError, /rope_parameters.rope_type is "linear"/],
      [{ layer_types: [...Array(35).fill('full_attention'), 'sliding_attention'] }, UnsupportedError, /layer_types\[35\] is "sliding_attention"/],
    ];
    for (const [change, errorClass, message] of cases) {
      const parse = () => parseQwen3Config({ ...QWEN3_4B_INSTRUCT_2507, ...change }, '/models/q/config.json');
      expect(parse).toThrow(errorClass);
      expect(parse).toThrow(new RegExp(`^/models/q/config\\.json: ${message.source}`));
    }
    expect(() => parseQwen3Config([], 'x.json')).toThrow(/x\.json: a config must be a JSON object/);
  });

  it('reads a file, naming it when it is missing or not JSON', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.json');
    await expect(readQwen3Config(path)).rejects.toThrow(IoError);
    writeFileSync(path, '{"model_type": "qwen3",');
    await expect(readQwen3Config(path)).rejects.toThrow(new RegExp(`${path}: not valid JSON`));
    writeFileSync(path, JSON.stringify(QWEN3_4B_INSTRUCT_2507));
    expect((await readQwen3Config(path)).hidden_size).toBe(2560);
  });

  it('writes a config that reads back the same, keeping the keys it does not interpret', () => {
    const config = parseQwen3Config(QWEN3_4B_INSTRUCT_2507, 'config.json');
    const json = qwen3ConfigJson(config);
    expect(json).toMatchObject({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', transformers_version: '4.51.0', rope_theta: 5e6 });
    expect(json).not.toHaveProperty('extra');
    expect(parseQwen3Config(JSON.parse(JSON.stringify(json)), 'again.json')).toEqual(config);
  });
});

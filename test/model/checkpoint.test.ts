import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bfloat16ToFloat32, float32ToBfloat16, fromF16Bits } from '../../lib/dtype.js';
import { FormatError, IoError } from '../../lib/errors.js';
import { type TensorToWrite, readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import type { StoredTensor } from '../../lib/io/storedTensor.js';
import { loadQwen3Checkpoint, openQwen3Checkpoint } from '../../lib/model/checkpoint.js';
import { planShards, saveQwen3Checkpoint } from '../../lib/model/checkpointSave.js';
import { qwen3ConfigJson, type Qwen3Config } from '../../lib/model/qwen3Config.js';
import { qwen3WeightSpecs } from '../../lib/model/qwen3Weights.js';
import { randomQwen3Weights, tinyQwen3Config } from '../../lib/model/tinyQwen3.js';
import { tempDir } from '../io/helpers.js';

/** A tiny config with a small vocabulary (no tokenizer needed to test files). */
function smallConfig(tied = true): Qwen3Config {
  return tinyQwen3Config({ hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediateSize: 48, vocabSize: 100, seed: 0, tieWordEmbeddings: tied }, { bos: 0, eos: 1 });
}

function bytesOf(tensor: StoredTensor): Uint8Array {
  return new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

function expectSameWeights(actual: ReadonlyMap<string, StoredTensor>, expected: ReadonlyMap<string, StoredTensor>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, tensor] of expected) {
    const back = actual.get(name)!;
    expect(back.dtype, name).toBe(tensor.dtype);
    expect(back.shape, name).toEqual(tensor.shape);
    expect(Buffer.from(bytesOf(back)).equals(Buffer.from(bytesOf(tensor))), name).toBe(true);
  }
}

/** Every file of a folder with its bytes. */
function folderBytes(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

/** Saves a small model at a fresh path and returns the folder and what was saved. */
async function savedModel(options: { tied?: boolean; dtype?: 'f32' | 'bf16' | 'f16'; maxShardBytes?: number } = {}) {
  const config = smallConfig(options.tied ?? true);
  const dtype = options.dtype ?? 'bf16';
  const weights = randomQwen3Weights(config, 7, dtype);
  const dir = join(tempDir(), 'model');
  await saveQwen3Checkpoint(dir, { config, weights, dtype, maxShardBytes: options.maxShardBytes });
  return { dir, config, weights };
}

describe('Qwen3 checkpoints', () => {
  it('round-trips a single-file checkpoint bit for bit, in the Hugging Face layout', async () => {
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      const { dir, config, weights } = await savedModel({ dtype });
      expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
      const file = await readSafetensors(join(dir, 'model.safetensors'));
      expect(file.metadata).toEqual({ format: 'pt' }); // transformers refuses the file without it
      expect(file.tensors.has('lm_head.weight')).toBe(false); // tied
      const config_ = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(config_).toMatchObject({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', torch_dtype: { f32: 'float32', bf16: 'bfloat16', f16: 'float16' }[dtype] });
      expect(JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'))).toEqual({ bos_token_id: 0, eos_token_id: 1 });

      const loaded = await loadQwen3Checkpoint(dir);
      expect(loaded.config).toEqual({ ...config, torch_dtype: config_.torch_dtype });
      expect(loaded.unexpected).toEqual([]);
      expectSameWeights(loaded.weights, weights);

      // Saving what was loaded writes the same bytes again.
      const again = join(tempDir(), 'again');
      await saveQwen3Checkpoint(again, { config: loaded.config, weights: loaded.weights });
      expect(folderBytes(again)).toEqual(folderBytes(dir));
    }
  });

  it('shards past the size limit with an index, and round-trips bit for bit', async () => {
    const { dir, config, weights } = await savedModel({ tied: false, maxShardBytes: 12_000 });
    const files = readdirSync(dir).sort();
    const shards = files.filter((f) => f.startsWith('model-'));
    expect(shards.length).toBeGreaterThan(2);
    expect(shards).toEqual(shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`));
    expect(files).toContain('model.safetensors.index.json');
    expect(files).not.toContain('model.safetensors');
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index.weight_map)).toEqual(qwen3WeightSpecs(config).map((s) => s.name));
    const totalBytes = [...weights.values()].reduce((n, t) => n + t.data.byteLength, 0);
    expect(index.metadata.total_size).toBe(totalBytes);
    for (const shard of shards) {
      const file = await readSafetensors(join(dir, shard));
      const size = [...file.tensors.values()].reduce((n, t) => n + t.data.byteLength, 0);
      // Only a tensor larger than the limit may make a shard exceed it, alone.
      expect(size <= 12_000 || file.tensors.size === 1, shard).toBe(true);
      for (const name of file.tensors.keys()) expect(index.weight_map[name]).toBe(shard);
    }
    const loaded = await loadQwen3Checkpoint(dir);
    expect(loaded.weights.has('lm_head.weight')).toBe(true);
    expectSameWeights(loaded.weights, weights);
    const again = join(tempDir(), 'again');
    await saveQwen3Checkpoint(again, { config: loaded.config, weights: loaded.weights, maxShardBytes: 12_000 });
    expect(folderBytes(again)).toEqual(folderBytes(dir));
  });

  it('converts bf16 to f32 on load exactly, and f32 to bf16 rounding to nearest even', async () => {
    const { dir, weights } = await savedModel({ dtype: 'bf16' });
    const asF32 = await loadQwen3Checkpoint(dir, { dtype: 'f32' });
    for (const [name, stored] of weights) {
      const wide = asF32.weights.get(name)!;
      expect(wide.dtype).toBe('F32');
      expect(wide.data).toEqual(bfloat16ToFloat32(stored.data as Uint16Array));
      // Exact: narrowing back gives the stored bits.
      expect(float32ToBfloat16(wide.data as Float32Array)).toEqual(stored.data);
    }
    const f32 = await savedModel({ dtype: 'f32' });
    const narrowed = await loadQwen3Checkpoint(f32.dir, { dtype: 'bf16' });
    const name = 'model.layers.1.mlp.down_proj.weight';
    expect(narrowed.weights.get(name)!.data).toEqual(float32ToBfloat16(f32.weights.get(name)!.data as Float32Array));
    const half = await loadQwen3Checkpoint(f32.dir, { dtype: 'f16' });
    const values = f32.weights.get(name)!.data as Float32Array;
    const halfBits = half.weights.get(name)!.data as Uint16Array;
    for (let i = 0; i < 50; i++) expect(Math.abs(fromF16Bits(halfBits[i]) - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -25);
  });

  it('reads one tensor at a time, shard by shard', async () => {
    const { dir, weights } = await savedModel({ tied: false, maxShardBytes: 12_000 });
    // transformers writes weight_map sorted by name, so the first entry may be in the last shard.
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const sortedMap = Object.fromEntries(Object.entries(index.weight_map as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(Object.keys(sortedMap)[0]).toBe('lm_head.weight');
    expect(sortedMap['lm_head.weight']).toMatch(/^model-(\d+)-of-\1\.safetensors$/); // the last shard
    writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: sortedMap }));
    const reader = await openQwen3Checkpoint(dir);
    try {
      const order: string[] = [];
      for await (const [name, tensor] of reader.tensors()) {
        order.push(index.weight_map[name]);
        expect(Buffer.from(bytesOf(tensor)).equals(Buffer.from(bytesOf(weights.get(name)!)))).toBe(true);
      }
      expect(order).toEqual([...order].sort()); // never back to an earlier shard
      expect(order.length).toBe(weights.size);
      const norm = await reader.read('model.norm.weight', 'f32');
      expect([...(norm.data as Float32Array)].every((v) => v === 1)).toBe(true);
      await expect(reader.read('model.layers.9.mlp.up_proj.weight')).rejects.toThrow(/no parameter named model\.layers\.9\.mlp\.up_proj\.weight/);
    } finally {
      await reader.close();
    }
  });

  it('names a missing tensor, a wrongly shaped one and a non-float one', async () => {
    const config = smallConfig();
    const weights = randomQwen3Weights(config, 1, 'bf16');
    const dir = join(tempDir(), 'bad');
    await saveQwen3Checkpoint(dir, { config, weights });
    const path = join(dir, 'model.safetensors');

    const without = new Map(weights);
    without.delete('model.layers.1.self_attn.k_norm.weight');
    await writeSafetensors(path, without, { format: 'pt' });
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(FormatError);
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${path}: missing tensor model.layers.1.self_attn.k_norm.weight`);

    const wrong = new Map(weights);
    wrong.set('model.layers.0.self_attn.v_proj.weight', { dtype: 'BF16', shape: [32, 32], data: new Uint16Array(32 * 32) });
    await writeSafetensors(path, wrong, { format: 'pt' });
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${path}: tensor model.layers.0.self_attn.v_proj.weight has shape [32,32] but config.json needs [16,32]`);

    const ints = new Map(weights);
    ints.set('model.norm.weight', { dtype: 'I32', shape: [32], data: new Int32Array(32) });
    await writeSafetensors(path, ints, { format: 'pt' });
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${path}: tensor model.norm.weight is I32; weights must be F32, BF16 or F16`);
  });

  it('reports unexpected tensors, and refuses them when strict', async () => {
    const config = smallConfig(true);
    const weights = randomQwen3Weights(config, 1, 'f32');
    const dir = join(tempDir(), 'extra');
    await saveQwen3Checkpoint(dir, { config, weights });
    const extra = new Map(weights);
    extra.set('lm_head.weight', weights.get('model.embed_tokens.weight')!);
    extra.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [4], data: new Float32Array(4) });
    await writeSafetensors(join(dir, 'model.safetensors'), extra, { format: 'pt' });
    const loaded = await loadQwen3Checkpoint(dir);
    expect(loaded.unexpected).toEqual([
      'lm_head.weight (model.safetensors: not a Qwen3ForCausalLM parameter)',
      'model.layers.0.self_attn.rotary_emb.inv_freq (model.safetensors: not a Qwen3ForCausalLM parameter)',
    ]);
    expect(loaded.weights.size).toBe(weights.size);
    await expect(openQwen3Checkpoint(dir, { strict: true })).rejects.toThrow(/tensors the Qwen3 model does not have: lm_head\.weight \(model\.safetensors/);
  });

  it('refuses a lying index, naming the index, the tensor and the shard', async () => {
    const { dir } = await savedModel({ tied: false, maxShardBytes: 12_000 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const write = (weightMap: Record<string, unknown>) => writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: weightMap }));

    const moved = 'model.layers.1.mlp.gate_proj.weight';
    const otherShard = index.weight_map['model.embed_tokens.weight'];
    expect(index.weight_map[moved]).not.toBe(otherShard);
    write({ ...index.weight_map, [moved]: otherShard });
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${indexPath}: weight_map puts tensor ${moved} in ${otherShard}, which does not hold it`);

    const { [moved]: _, ...withoutMoved } = index.weight_map;
    write(withoutMoved);
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${indexPath}: missing tensor ${moved}`);

    write({ ...index.weight_map, [moved]: '../elsewhere.safetensors' });
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${indexPath}: weight_map.${moved} must be a .safetensors file name in the folder`);

    write({ ...index.weight_map, [moved]: 'model-00099-of-00099.safetensors' });
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(IoError);
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(/model-00099-of-00099\.safetensors: cannot read file \(no such file\)/);

    writeFileSync(indexPath, '{"weight_map": ');
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${indexPath}: not valid JSON`);
  });

  it('lists tensors that a shard holds but the index does not', async () => {
    const { dir } = await savedModel({ tied: false, maxShardBytes: 12_000 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const shard = index.weight_map['model.norm.weight'];
    const file = await readSafetensors(join(dir, shard));
    file.tensors.set('model.extra.weight', { dtype: 'BF16', shape: [2], data: new Uint16Array(2) });
    await writeSafetensors(join(dir, shard), file.tensors, { format: 'pt' });
    expect((await loadQwen3Checkpoint(dir)).unexpected).toEqual([`model.extra.weight (${shard}: not listed there by the index)`]);
  });

  it('says what is missing from a folder without weights or config', async () => {
    const dir = tempDir();
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${join(dir, 'config.json')}: cannot read file (no such file)`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(qwen3ConfigJson(smallConfig())));
    writeFileSync(join(dir, 'pytorch_model.bin'), '');
    await expect(openQwen3Checkpoint(dir)).rejects.toThrow(`${dir}: no model.safetensors or model.safetensors.index.json (pytorch_model.bin is not read`);
  });

  it('refuses to save weights that do not fit the config, leaving nothing behind', async () => {
    const config = smallConfig(true);
    const weights = randomQwen3Weights(config, 3, 'f32');
    const parent = tempDir();
    const dir = join(parent, 'out');
    const missing = new Map(weights);
    missing.delete('model.norm.weight');
    await expect(saveQwen3Checkpoint(dir, { config, weights: missing })).rejects.toThrow("'weights' lacks model.norm.weight");
    const untied = new Map(weights).set('lm_head.weight', weights.get('model.embed_tokens.weight')!);
    await expect(saveQwen3Checkpoint(dir, { config, weights: untied })).rejects.toThrow(/'weights' has lm_head\.weight, which the model \(tie_word_embeddings true\) does not have/);
    const wrong = new Map(weights).set('model.norm.weight', { dtype: 'F32', shape: [31], data: new Float32Array(31) });
    await expect(saveQwen3Checkpoint(dir, { config, weights: wrong })).rejects.toThrow('weight model.norm.weight has shape [31] but the config needs [32]');
    // Lazy data that turns out wrong is caught while writing; the temporary folder is removed.
    const lying = new Map<string, TensorToWrite>(weights).set('model.norm.weight', { dtype: 'F32', shape: [32], data: () => new Float32Array(3) });
    await expect(saveQwen3Checkpoint(dir, { config, weights: lying })).rejects.toThrow(RangeError);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('replaces an existing folder only when asked, and copies tokenizer files and generation config', async () => {
    const { dir, config, weights } = await savedModel();
    await expect(saveQwen3Checkpoint(dir, { config, weights })).rejects.toThrow(`${dir}: already exists`);
    const source = tempDir();
    writeFileSync(join(source, 'tokenizer.json'), '{"model": {}}');
    writeFileSync(join(source, 'tokenizer_config.json'), '{}');
    writeFileSync(join(source, 'generation_config.json'), '{"temperature": 0.7}');
    writeFileSync(join(source, 'unrelated.txt'), 'not copied');
    const lazy = new Map([...weights].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: () => t.data }]));
    await saveQwen3Checkpoint(dir, { config, weights: lazy, dtype: 'f32', copyFrom: source, overwrite: true });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readFileSync(join(dir, 'generation_config.json'), 'utf8')).toBe('{"temperature": 0.7}');
    expect(readdirSync(join(dir, '..')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const loaded = await loadQwen3Checkpoint(dir, { dtype: 'bf16' });
    expect(loaded.config.torch_dtype).toBe('float32');
    expectSameWeights(loaded.weights, weights); // bf16 → f32 → bf16 is exact
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });

  it('plans shards as transformers does', () => {
    const t = (bytes: number) => ({ dtype: 'F32' as const, shape: [bytes / 4] });
    const tensors = new Map([['a', t(40)], ['b', t(40)], ['c', t(400)], ['d', t(8)], ['e', t(80)]]);
    expect(planShards(tensors, 100)).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
    expect(planShards(tensors, 1000)).toEqual([['a', 'b', 'c', 'd', 'e']]);
    expect(() => planShards(tensors, 0)).toThrow(RangeError);
  });
});

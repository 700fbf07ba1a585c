/**
 * generation_config.json as transformers uses it: its eos list stops generation, its sampling
 * defaults apply when `do_sample` is set and the caller sets none, and `save` writes it back
 * whole; `logits` gives inference logits that agree with the fused training loss and generation.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { toFloat32 } from '../../lib/io/storedTensor.js';
import { Qwen3Model, defaultSampling, generate, parseGenerationConfig, randomQwen3Weights, releaseForward, saveQwen3Checkpoint, tinyQwen3Config } from '../../lib/model/index.js';

const config = tinyQwen3Config({ hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediateSize: 48, vocabSize: 211, seed: 7 }, { bos: 209, eos: 210 });
const weights = randomQwen3Weights(config, 7);
for (const [name, t] of weights) if (!name.endsWith('norm.weight')) weights.set(name, { ...t, data: toFloat32(t, 'test', name).map((v) => v * 20) });
const prompt = Int32Array.of(5, 17, 33, 2, 90);

async function folder(generationConfig?: Record<string, unknown>): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'wsi-vqa-genconfig-')), 'model');
  await saveQwen3Checkpoint(dir, { config, weights, dtype: 'f32', generationConfig });
  return dir;
}

describe('generation_config.json', () => {
  it('its eos list stops generation, as transformers stops at any of them', async () => {
    const plain = await Qwen3Model.load(await folder());
    const greedy = generate(plain, [{ ids: prompt }], { maxNewTokens: 8, stopTokens: [] })[0];
    // Stop at the third greedy token (not config.json's eos 210): listed second, after an id never produced.
    const third = greedy[2];
    expect(greedy.indexOf(third)).toBe(2);
    const model = await Qwen3Model.load(await folder({ eos_token_id: [208, third], pad_token_id: 209 }));
    expect(generate(model, [{ ids: prompt }], { maxNewTokens: 8 })[0]).toEqual(greedy.slice(0, 3));
    // Without the file, config.json's eos_token_id (210) is the only stop token.
    expect(generate(plain, [{ ids: prompt }], { maxNewTokens: 8 })[0]).toEqual(greedy.includes(210) ? greedy.slice(0, greedy.indexOf(210) + 1) : greedy);
    plain.dispose();
    model.dispose();
  });

  it('do_sample brings its temperature, top_k and top_p; the caller overrides them; without do_sample it is greedy', async () => {
    expect(defaultSampling(undefined)).toEqual({ temperature: 0 });
    expect(defaultSampling({ temperature: 0.6 })).toEqual({ temperature: 0 });
    expect(defaultSampling({ do_sample: true, temperature: 0.6, top_k: 20, top_p: 0.95 })).toEqual({ temperature: 0.6, topK: 20, topP: 0.95 });
    expect(defaultSampling({ do_sample: true })).toEqual({ temperature: 1, topK: 50, topP: 1 }); // transformers' defaults

    const sampling = { do_sample: true, temperature: 1.5, top_k: 40, top_p: 0.9, eos_token_id: [] };
    const model = await Qwen3Model.load(await folder(sampling));
    const fromFile = generate(model, [{ ids: prompt }], { maxNewTokens: 12, seed: 3 })[0];
    expect(fromFile).toEqual(generate(model, [{ ids: prompt }], { maxNewTokens: 12, seed: 3, temperature: 1.5, topK: 40, topP: 0.9 })[0]);
    const greedy = generate(model, [{ ids: prompt }], { maxNewTokens: 12, temperature: 0 })[0];
    expect(fromFile).not.toEqual(greedy); // a 211-token vocabulary at temperature 1.5: twelve greedy picks in a row would be a fluke
    model.dispose();
  });

  it('save writes the loaded file back whole: the eos list, pad_token_id and keys it does not read', async () => {
    const written = { bos_token_id: 209, eos_token_id: [210, 208], pad_token_id: 209, do_sample: true, temperature: 0.6, top_k: 20, top_p: 0.95, transformers_version: '4.51.0' };
    const model = await Qwen3Model.load(await folder(written));
    const copy = join(mkdtempSync(join(tmpdir(), 'wsi-vqa-genconfig-')), 'copy');
    await model.save(copy);
    expect(JSON.parse(readFileSync(join(copy, 'generation_config.json'), 'utf8'))).toEqual(written);
    model.dispose();
  });

  it('a malformed file is a FormatError naming the file and the key', async () => {
    expect(() => parseGenerationConfig({ eos_token_id: 'x' }, 'g.json')).toThrow(/g\.json: 'eos_token_id'/);
    const dir = await folder();
    writeFileSync(join(dir, 'generation_config.json'), '{"top_p": 2}');
    await expect(Qwen3Model.load(dir)).rejects.toThrow(FormatError);
    await expect(Qwen3Model.load(dir)).rejects.toThrow(/generation_config\.json: 'top_p'/);
  });
});

describe('Qwen3Model.logits', () => {
  const model = Qwen3Model.fromWeights(config, weights, { dtype: 'f32' });
  const ids = Int32Array.of(5, 17, 33, 2, 90, 11, 8, 150, 60, 0);
  const batch = { ids, batch: 2, tokens: 5, seqLens: Int32Array.of(5, 4) };

  it('gives (B·T, vocab) logits whose cross-entropy is the fused training loss', () => {
    const logits = model.logits(batch);
    expect(logits.shape).toEqual([10, 211]);
    const all = logits.toFloat32();
    logits.dispose();
    // Next-token loss over the valid positions, in float64 from the logits.
    let expected = 0;
    let count = 0;
    for (const [b, length] of [[0, 5], [1, 4]]) {
      for (let t = 0; t + 1 < length; t++) {
        const row = all.subarray((b * 5 + t) * 211, (b * 5 + t + 1) * 211);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((sum, v) => sum + Math.exp(v - max), 0));
        expected += lse - row[ids[b * 5 + t + 1]];
        count++;
      }
    }
    const labels = Int32Array.from(ids, (id, i) => (i % 5 < (i < 5 ? 5 : 4) ? id : -100));
    const state = model.forward(batch, { recompute: true });
    const { loss, count: counted, dHidden } = model.loss(state, labels);
    dHidden.dispose();
    releaseForward(state);
    expect(counted).toBe(count);
    expect(Math.abs(loss - expected)).toBeLessThan(1e-4 * Math.abs(expected));
  });

  it('picks rows, and the last prompt row predicts the greedy first token', () => {
    using picked = model.logits(batch, { rows: [3, 8] });
    using all = model.logits(batch);
    const [rows, every] = [picked.toFloat32(), all.toFloat32()];
    // Equal up to the order of the LM head's sums: the CPU GEMM takes a few rows as dot products
    // along k (no packing), a whole batch through the packed micro-kernel.
    const closeTo = (got: Float32Array, want: Float32Array) => got.forEach((x, i) => expect(Math.abs(x - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!))));
    closeTo(rows.subarray(0, 211), every.subarray(3 * 211, 4 * 211));
    closeTo(rows.subarray(211), every.subarray(8 * 211, 9 * 211));
    const last = every.subarray(4 * 211, 5 * 211);
    const [first] = generate(model, [{ ids: ids.subarray(0, 5) }], { maxNewTokens: 1, stopTokens: [] })[0];
    expect(first).toBe(last.indexOf(Math.max(...last)));
    expect(() => model.logits(batch, { rows: [10] })).toThrow(/rows\[0\] = 10/);
  });
});

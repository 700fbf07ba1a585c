/**
 * Parity with Hugging Face transformers on the fixture written by
 * test/fixtures/qwen3/make_reference.py (see its docstring for what each tensor is). The fixture
 * needs PyTorch and transformers to make; until it is committed these tests are skipped.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { StoredTensor } from '../../lib/io/storedTensor.js';
import { type Qwen3Checkpoint, loadQwen3Checkpoint } from '../../lib/model/checkpoint.js';
import { qwen3WeightSpecs } from '../../lib/model/qwen3Weights.js';
import { Qwen3Model } from '../../lib/model/qwen3Model.js';
import { matmul } from '../../lib/ops.js';
import { Tensor } from '../../lib/tensor.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/qwen3/', import.meta.url));
const MODEL_DIR = `${FIXTURE}tiny`;
const REFERENCE = `${FIXTURE}reference.safetensors`;
const present = existsSync(`${MODEL_DIR}/config.json`) && existsSync(REFERENCE);
const HOW_TO_MAKE = 'run `python test/fixtures/qwen3/make_reference.py` on a machine with PyTorch and transformers (the GPU machine) and commit its output';
if (!present) console.warn(`Qwen3 parity fixture absent: ${HOW_TO_MAKE}`);

const IGNORE = -100n;

describe.skipIf(!present)(`Qwen3 parity fixture (skipped when absent: ${HOW_TO_MAKE})`, () => {
  let checkpoint: Qwen3Checkpoint | undefined;
  let reference = new Map<string, StoredTensor>();
  beforeAll(async () => {
    checkpoint = await loadQwen3Checkpoint(MODEL_DIR, { dtype: 'f32', strict: true });
    reference = (await readSafetensors(REFERENCE)).tensors;
  });
  const get = (name: string): StoredTensor => {
    const tensor = reference.get(name);
    if (tensor === undefined) throw new Error(`${REFERENCE}: no tensor ${name}`);
    return tensor;
  };

  it('holds the checkpoint transformers saved, as the script describes', () => {
    const config = checkpoint!.config;
    expect(config).toMatchObject({ hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 128, tie_word_embeddings: true, torch_dtype: 'float32' });
    expect(checkpoint!.unexpected).toEqual([]);
    const norm = checkpoint!.weights.get('model.layers.0.input_layernorm.weight')!.data as Float32Array;
    expect(Math.min(...norm)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...norm)).toBeLessThanOrEqual(1.5);
  });

  it('has a batch of two right-padded sequences, labels -100 on padding and prompt', () => {
    const ids = get('input_ids');
    const mask = get('attention_mask').data as BigInt64Array;
    const labels = get('labels').data as BigInt64Array;
    expect(ids.dtype).toBe('I64');
    const [batch, length] = ids.shape;
    expect(batch).toBe(2);
    expect(get('attention_mask').shape).toEqual([batch, length]);
    expect(get('labels').shape).toEqual([batch, length]);
    const lengths = [0, 1].map((b) => mask.slice(b * length, (b + 1) * length).reduce((n, m) => n + Number(m), 0));
    expect(lengths[0]).not.toBe(lengths[1]);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < length; t++) {
        const i = b * length + t;
        expect(mask[i]).toBe(t < lengths[b] ? 1n : 0n); // right padding
        if (mask[i] === 0n) expect(labels[i]).toBe(IGNORE);
        expect((ids.data as BigInt64Array)[i] < BigInt(checkpoint!.config.vocab_size)).toBe(true);
      }
    }
    expect(labels.some((l) => l === IGNORE)).toBe(true);
    expect(labels.some((l) => l !== IGNORE)).toBe(true);
  });

  it('has a gradient of the weights shape for every parameter, and of the input embeddings', () => {
    const specs = qwen3WeightSpecs(checkpoint!.config);
    const grads = [...reference.keys()].filter((name) => name.startsWith('grad.')).sort();
    expect(grads).toEqual(['grad.inputs_embeds', ...specs.map((s) => `grad.${s.name}`)].sort());
    for (const { name, shape } of specs) {
      const grad = get(`grad.${name}`);
      expect(grad.dtype, name).toBe('F32');
      expect(grad.shape, name).toEqual(shape);
      expect((grad.data as Float32Array).every(Number.isFinite), name).toBe(true);
      expect((grad.data as Float32Array).some((g) => g !== 0), name).toBe(true);
    }
    const [batch, length] = get('input_ids').shape;
    expect(get('grad.inputs_embeds').shape).toEqual([batch, length, checkpoint!.config.hidden_size]);
  });

  it('has a loss that is the mean shifted cross-entropy of its logits over labelled positions', () => {
    const logits = get('logits');
    const [batch, length, vocab] = logits.shape;
    expect(vocab).toBe(checkpoint!.config.vocab_size);
    const values = logits.data as Float32Array;
    const labels = get('labels').data as BigInt64Array;
    let total = 0;
    let count = 0;
    for (let b = 0; b < batch; b++) {
      // Position t predicts labels[t + 1].
      for (let t = 0; t + 1 < length; t++) {
        const label = labels[b * length + t + 1];
        if (label === IGNORE) continue;
        const row = values.subarray((b * length + t) * vocab, (b * length + t + 1) * vocab);
        let max = -Infinity;
        for (const v of row) max = Math.max(max, v);
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        total += max + Math.log(sum) - row[Number(label)];
        count += 1;
      }
    }
    const loss = (get('loss').data as Float32Array)[0];
    expect(get('loss').shape).toEqual([]);
    expect(Math.abs(total / count - loss)).toBeLessThan(1e-5 * loss);
  });

  it('logits, loss and every gradient match transformers', () => {
    const config = checkpoint!.config;
    const model = Qwen3Model.fromWeights(config, checkpoint!.weights, { dtype: 'f32', source: MODEL_DIR });
    const [batch, tokens] = get('input_ids').shape;
    const ids = Int32Array.from(get('input_ids').data as BigInt64Array, Number);
    const labels = Int32Array.from(get('labels').data as BigInt64Array, Number);
    const mask = get('attention_mask').data as BigInt64Array;
    const seqLens = Int32Array.from({ length: batch }, (_, b) => mask.slice(b * tokens, (b + 1) * tokens).reduce((n, m) => n + Number(m), 0));
    const relative = (ours: Float32Array, theirs: Float32Array) => {
      let diff = 0;
      let norm = 0;
      theirs.forEach((v, i) => ((diff += (ours[i] - v) ** 2), (norm += v * v)));
      return Math.sqrt(diff / norm);
    };
    const unpadded = (values: Float32Array, width: number) => Float32Array.from(values.filter((_, i) => Math.floor(i / width) % tokens < seqLens[Math.floor(i / width / tokens)]));

    const state = model.forward({ ids, batch, tokens, seqLens });
    using logits = matmul(state.hidden, model.lmHead, { transB: true });
    const vocab = config.vocab_size;
    expect(relative(unpadded(logits.toFloat32(), vocab), unpadded(get('logits').data as Float32Array, vocab))).toBeLessThan(1e-4);
    const count = labels.filter((l, i) => i % tokens > 0 && l !== -100).length;
    const { loss, dHidden } = model.loss(state, labels, { gradScale: 1 / count, headGrad: true });
    expect(Math.abs(loss / count - (get('loss').data as Float32Array)[0])).toBeLessThan(1e-4 * (loss / count));
    model.backward(state, dHidden, { weightGradients: true });
    for (const { name } of qwen3WeightSpecs(config)) {
      expect(relative(model.gradients().get(name).toFloat32(), get(`grad.${name}`).data as Float32Array), name).toBeLessThan(1e-3);
    }

    // The input-embedding gradient: every position's embedding given as an "image" row (stage 1).
    const rows = Int32Array.from({ length: batch * tokens }, (_, i) => i);
    using idsTensor = Tensor.from(ids, [ids.length]);
    using embeds = model.embed(idsTensor);
    const again = model.forward({ ids, batch, tokens, seqLens, image: { embeds, rows } });
    const { dHidden: dAgain } = model.loss(again, labels, { gradScale: 1 / count });
    const { dImage } = model.backward(again, dAgain, { weightGradients: false });
    const hidden = config.hidden_size;
    expect(relative(unpadded(dImage!.toFloat32(), hidden), unpadded(get('grad.inputs_embeds').data as Float32Array, hidden))).toBeLessThan(1e-3);
    model.dispose();
  });
});

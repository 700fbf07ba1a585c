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

  // Needs the Qwen3 forward and backward (another part of issue 5): run them in f32 on the CPU
  // with the weights of `checkpoint`, on `input_ids` / `attention_mask` / `labels`, and
  // compare logits at unpadded positions (relative error < 1e-4), the loss, every `grad.<name>`
  // and `grad.inputs_embeds` (relative error < 1e-3).
  it.todo('logits, loss and every gradient match transformers (needs the Qwen3 forward and backward)');
});

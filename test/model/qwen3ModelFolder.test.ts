/**
 * The Qwen3 model from and to a model folder made by makeTinyQwen3 (the real 151 936-row
 * vocabulary and tokenizer): loading streams into the parameter buffer and saving writes the
 * same bits back; trainStep in stage 1 and 2, and AdamW over parameters() / gradients().
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Qwen3Model, loadQwen3Checkpoint, makeTinyQwen3 } from '../../lib/model/index.js';
import { adamw } from '../../lib/qwen3Ops.js';
import { Tensor } from '../../lib/tensor.js';
import { tempDir } from '../io/helpers.js';

const SIZES = { hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediateSize: 48, seed: 7 };
const [BATCH, TOKENS] = [2, 5];
const IDS = Int32Array.of(151644, 872, 198, 3838, 374, 151644, 77091, 198, 0, 0);
const SEQ_LENS = Int32Array.of(5, 3);
// Labels on the last two tokens of each sequence (unshifted: position t − 1 predicts them).
const LABELS = Int32Array.of(-100, -100, -100, 3838, 374, -100, 77091, 198, -100, -100);
const IMAGE_ROWS = Int32Array.of(1, 6);

// Byte comparison: expect().toEqual on a 4.9M-element array takes tens of seconds.
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('Qwen3Model and a model folder', () => {
  let dir = '';
  beforeAll(async () => {
    dir = join(tempDir(), 'tiny');
    await makeTinyQwen3(dir, { ...SIZES, dtype: 'bf16' });
  }, 120_000);

  it('loads a bf16 folder as bf16 and saves the same weights and config back, bit for bit', async () => {
    const model = await Qwen3Model.load(dir, { dtype: 'bf16' });
    expect(model.dtype).toBe('bf16');
    const copy = join(tempDir(), 'copy');
    await model.save(copy, { copyFrom: dir });
    for (const file of ['model.safetensors', 'config.json', 'tokenizer.json']) {
      expect(readFileSync(join(copy, file)).equals(readFileSync(join(dir, file))), file).toBe(true);
    }
    // Widened to f32 on load: every value exact, and saved as f32 unless asked otherwise.
    const wide = await Qwen3Model.load(dir);
    expect(wide.dtype).toBe('f32');
    const original = await loadQwen3Checkpoint(dir, { dtype: 'f32' });
    for (const [name, tensor] of wide.parameters().tensors) expect(sameBits(tensor.toFloat32(), original.weights.get(name)!.data as Float32Array), name).toBe(true);
    model.dispose();
    wide.dispose();
  });

  it('trainStep: stage 1 leaves every gradient zero and gives the image gradient of stage 2', async () => {
    const model = await Qwen3Model.load(dir);
    using embeds = Tensor.from(Float32Array.from({ length: 2 * 32 }, (_, i) => Math.cos(i)), [2, 32]);
    const batch = { ids: IDS, batch: BATCH, tokens: TOKENS, seqLens: SEQ_LENS, image: { embeds, rows: IMAGE_ROWS } };
    const stage1 = model.trainStep(batch, LABELS, { weightGradients: false });
    expect(stage1.count).toBe(4);
    expect(model.gradients().buffer.toFloat32().every((g) => g === 0)).toBe(true);
    const stage2 = model.trainStep(batch, LABELS, { weightGradients: true, recompute: true });
    expect(stage2.loss).toBe(stage1.loss);
    expect(stage2.dImage!.toFloat32()).toEqual(stage1.dImage!.toFloat32());
    // The LM head is the embedding (tied): its gradient reaches rows of tokens absent from the batch (id 5).
    const dEmbedding = model.gradients().get('model.embed_tokens.weight').toFloat32();
    expect(dEmbedding.subarray(5 * 32, 6 * 32).some((g) => g !== 0)).toBe(true);
    stage1.dImage!.dispose();
    stage2.dImage!.dispose();
    model.dispose();
  });

  it('lowers the loss with AdamW over parameters() and gradients()', async () => {
    const model = await Qwen3Model.load(dir);
    const batch = { ids: IDS, batch: BATCH, tokens: TOKENS, seqLens: SEQ_LENS };
    const params = [...model.parameters().tensors];
    const states = params.map(([, t]) => ({ m: Tensor.zeros(t.shape), v: Tensor.zeros(t.shape) }));
    const losses: number[] = [];
    for (let step = 1; step <= 6; step++) {
      model.zeroGradients();
      const { loss, count } = model.trainStep(batch, LABELS, { weightGradients: true, gradScale: 1 / 4 });
      losses.push(loss / count);
      params.forEach(([name, param], i) => adamw(param, model.gradients().get(name), states[i], { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step, gradScale: 1 }));
    }
    // From ln(151 936) ≈ 11.9 (random init) towards the four labelled tokens.
    expect(losses[0]).toBeGreaterThan(11);
    expect(losses.at(-1)!).toBeLessThan(losses[0] - 1);
    for (const s of states) [s.m, s.v].forEach((t) => t.dispose());
    model.dispose();
  });
});

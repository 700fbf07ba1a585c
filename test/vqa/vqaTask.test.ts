/** Stage 1 and 2 tasks: their weights go to disk and come back exactly (what resume relies on). */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomCompressor } from '../../lib/compressorState.js';
import { Qwen3Model } from '../../lib/model/qwen3Model.js';
import { makeTinyQwen3 } from '../../lib/model/tinyQwen3.js';
import { randomProjector } from '../../lib/projectorState.js';
import { fill } from '../../lib/qwen3Ops.js';
import { loadTokenizer } from '../../lib/text/tokenizer.js';
import { VqaModel } from '../../lib/vqa/vqaModel.js';
import { VqaTask } from '../../lib/vqa/vqaTask.js';
import { collateConversations } from '../../lib/text/collate.js';
import { tokenizeConversation } from '../../lib/text/chat.js';
import { add } from '../../lib/ops.js';
import { Tensor } from '../../lib/tensor.js';
import { Rng, caseSeed } from '../ops/random.js';
import { tempDir } from '../io/helpers.js';

describe('VqaTask', () => {
  it('stage 2 saves the projector and the LLM folder and loads them back bit for bit', async () => {
    const llmPath = join(tempDir(), 'llm');
    await makeTinyQwen3(llmPath, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed: 2 });
    const llm = await Qwen3Model.load(llmPath);
    const model = new VqaModel({ compressor: randomCompressor({ slots: 2 }), projector: randomProjector(16, 3), llm, tokenizer: await loadTokenizer(llmPath), llmPath });
    const task = new VqaTask(model, 2);
    const digest = () => task.parameters().map((p) => `${p.name} ${createHash('sha256').update(p.value.toFloat32()).digest('hex')}`);
    const before = digest();
    const dir = tempDir();
    await task.saveWeights(dir);
    expect(existsSync(join(dir, 'projector.safetensors'))).toBe(true);
    expect(existsSync(join(dir, 'llm', 'model.safetensors'))).toBe(true);
    for (const p of task.parameters()) fill(p.value, 0.5);
    expect(digest()).not.toEqual(before);
    await task.loadWeights(dir);
    expect(digest()).toEqual(before);
    expect(new VqaTask(model, 1).parameters().map((p) => p.name)).toEqual(['projector.fc1Weight', 'projector.fc1Bias', 'projector.fc2Weight', 'projector.fc2Bias']);
  });

  it('with trainCompressor, trains the compressor at its own rate by the gradient of the answers, and saves it as moe_best.pt in the TC-SSA layout', async () => {
    const seed = caseSeed('VqaTask trainCompressor');
    console.log(`VqaTask trainCompressor: seed ${seed}`);
    const rng = new Rng(seed);
    const llmPath = join(tempDir(), 'llm');
    await makeTinyQwen3(llmPath, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed: 2 });
    const tokenizer = await loadTokenizer(llmPath);
    const model = new VqaModel({ compressor: randomCompressor({ slots: 2, seed: 4 }), projector: randomProjector(16, 3), llm: await Qwen3Model.load(llmPath), tokenizer, llmPath });
    const task = new VqaTask(model, 1, { trainCompressor: { lrScale: 0.5 } });
    const compressorParams = task.parameters().filter((p) => p.name.startsWith('compressor.'));
    expect(compressorParams.map((p) => p.name)).toContain('compressor.gate.weight');
    expect(new Set(compressorParams.map((p) => p.lrScale))).toEqual(new Set([0.5]));

    const slide = (patches: number) => ({ features: Float32Array.from({ length: patches * 1024 }, () => rng.normal()), patches });
    const conversation = (answer: string) => tokenizeConversation(tokenizer, [{ role: 'user', content: '<image>\nWhich organ?' }, { role: 'assistant', content: answer }], { imageTokens: 2 });
    const batch = collateConversations([{ conversation: conversation('lung'), slides: [slide(5)] }, { conversation: conversation('B'), slides: [slide(3)] }], { padId: tokenizer.ids.pad, imageTokens: 2 });
    const context = { step: 3, micro: 0, seed: 1 };
    const loss = async () => (await task.forwardBackward(batch, context)).lossSum;

    task.zeroGradients();
    const base = await loss();
    const grads = compressorParams.map((p) => p.grad.toFloat32());
    expect(grads.some((g) => g.some((v) => v !== 0))).toBe(true);
    // The derivative along the unit gradient direction (|g| by the backward) against central
    // differences of the loss, half of it along a random direction so that no single term decides.
    const length = (arrays: Float32Array[]) => Math.sqrt(arrays.reduce((sum, a) => sum + a.reduce((s, v) => s + v * v, 0), 0));
    const norm = length(grads);
    const noise = compressorParams.map((p) => Float32Array.from({ length: p.value.numel }, () => rng.normal()));
    const noiseNorm = length(noise);
    const directions = grads.map((g, i) => g.map((v, j) => (v / norm + noise[i][j] / noiseNorm) / Math.SQRT2));
    const predicted = grads.reduce((sum, g, i) => sum + g.reduce((s, v, j) => s + v * directions[i][j], 0), 0);
    const h = 1e-2;
    const shift = (factor: number) => compressorParams.forEach((p, i) => {
      using step = Tensor.from(directions[i], p.value.shape);
      add(p.value, step, { beta: factor, out: p.value });
    });
    shift(h);
    const up = await loss();
    shift(-2 * h);
    const down = await loss();
    shift(h);
    expect(Number.isFinite(base)).toBe(true);
    expect((up - down) / (2 * h)).toBeCloseTo(predicted, 0);
    expect(Math.abs((up - down) / (2 * h) - predicted)).toBeLessThan(0.05 * Math.abs(predicted));

    const dir = tempDir();
    await task.saveWeights(dir);
    expect(existsSync(join(dir, 'moe_best.pt'))).toBe(true);
    const before = compressorParams.map((p) => createHash('sha256').update(p.value.toFloat32()).digest('hex'));
    for (const p of compressorParams) fill(p.value, 0.5);
    await task.loadWeights(dir);
    expect(compressorParams.map((p) => createHash('sha256').update(p.value.toFloat32()).digest('hex'))).toEqual(before);
    task.dispose();
    model.dispose();
  });
});

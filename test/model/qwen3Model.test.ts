/**
 * The Qwen3 model's training passes on every backend present: the loss against an independent
 * float64 forward, weight and image-row gradients against finite differences of it, stage 1 vs
 * stage 2, recomputation, and a few AdamW steps lowering the loss.
 */
import { describe, expect, it } from 'vitest';
import { toFloat32 } from '../../lib/io/storedTensor.js';
import { ActivationArena } from '../../lib/model/activationArena.js';
import { Qwen3Model, randomQwen3Weights, releaseForward, tinyQwen3Config } from '../../lib/model/index.js';
import { layerActivationElements, layerBackward, layerBackwardElements, layerForward } from '../../lib/model/qwen3Layer.js';
import { adamw } from '../../lib/qwen3Ops.js';
import { Tensor } from '../../lib/tensor.js';
import { backends } from '../ops/harness.js';
import { baseSeed, caseSeed, Rng } from '../ops/random.js';
import { referenceHidden, referenceLoss, type Weights } from './reference/qwen3.js';

const config = tinyQwen3Config({ hiddenSize: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediateSize: 24, vocabSize: 97, seed: 3 }, { bos: 95, eos: 96 });
const [BATCH, TOKENS] = [2, 6];
const SEQ_LENS = Int32Array.of(6, 4);
const IMAGE_ROWS = Int32Array.of(1, 2, 7);

function problem(seed: number) {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: BATCH * TOKENS }, () => Math.floor(rng.uniform() * 97));
  const labels = Int32Array.from(ids, (id, i) => (i % TOKENS >= SEQ_LENS[Math.floor(i / TOKENS)] || i % TOKENS === 1 ? -100 : id));
  const image = Float64Array.from({ length: IMAGE_ROWS.length * 16 }, () => 0.5 * rng.normal());
  return { ids, labels, image };
}

function referenceWeights(model: Qwen3Model): Weights {
  return new Map([...model.params.tensors].map(([name, t]) => [name, Float64Array.from(t.toFloat32())]));
}

function refLoss(w: Weights, p: ReturnType<typeof problem>): number {
  const hidden = referenceHidden(config, w, p.ids, BATCH, TOKENS, SEQ_LENS, { embeds: p.image, rows: IMAGE_ROWS });
  return referenceLoss(config, w, hidden, p.labels, BATCH, TOKENS).loss;
}

describe.each(backends().filter((b) => b.available))('Qwen3Model on $device', ({ device }) => {
  const seed = caseSeed(`qwen3 model ${device}`);
  console.log(`Qwen3Model on ${device}: seed ${seed} (base seed ${baseSeed}; replay with WSI_TEST_SEED=${baseSeed})`);
  const weights = randomQwen3Weights(config, 3);
  // Larger than the default init, so the layers matter to the loss.
  for (const [name, t] of weights) if (!name.endsWith('norm.weight')) weights.set(name, { ...t, data: toFloat32(t, 'test', name).map((v) => v * 10) });

  function run(model: Qwen3Model, p: ReturnType<typeof problem>, weightGradients: boolean, recompute = false) {
    using embeds = Tensor.from(p.image, [IMAGE_ROWS.length, 16], { device });
    const state = model.forward({ ids: p.ids, batch: BATCH, tokens: TOKENS, seqLens: SEQ_LENS, image: { embeds, rows: IMAGE_ROWS } }, { recompute });
    const { loss, count, dHidden } = model.loss(state, p.labels, { headGrad: weightGradients });
    const { dImage } = model.backward(state, dHidden, { weightGradients });
    dHidden.dispose();
    return { loss, count, dImage: dImage!.toFloat32() };
  }

  it(`matches the float64 forward, and its gradients (seed ${seed})`, () => {
    const model = Qwen3Model.fromWeights(config, weights, { device, dtype: 'f32' });
    const p = problem(seed);
    const w = referenceWeights(model);
    const { loss, count, dImage } = run(model, p, true);
    expect(count).toBe(6);
    expect(loss).toBeCloseTo(refLoss(w, p), 4);
    // Central differences of the float64 loss for a few entries of several weights and the image.
    const h = 1e-5;
    const fd = (values: Float64Array, i: number) => {
      const keep = values[i];
      values[i] = keep + h;
      const plus = refLoss(w, p);
      values[i] = keep - h;
      const minus = refLoss(w, p);
      values[i] = keep;
      return (plus - minus) / (2 * h);
    };
    const grads = model.gradients();
    for (const name of ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.k_norm.weight', 'model.layers.0.mlp.down_proj.weight', 'model.norm.weight', 'model.layers.1.input_layernorm.weight']) {
      const g = grads.get(name).toFloat32();
      const values = w.get(name)!;
      for (const i of [0, 5, values.length - 1].map((i) => (name.startsWith('model.embed') ? p.ids[i % p.ids.length] * 16 + (i % 16) : i))) {
        expect(g[i], `${name}[${i}]`).toBeCloseTo(fd(values, i), 3);
      }
    }
    for (const i of [0, 17, dImage.length - 1]) expect(dImage[i], `dImage[${i}]`).toBeCloseTo(fd(p.image, i), 3);
    model.dispose();
  });

  it('stage 1 makes no weight gradients and the same image gradient as stage 2; recompute changes nothing', () => {
    const model = Qwen3Model.fromWeights(config, weights, { device, dtype: 'f32' });
    const p = problem(seed + 1);
    const stage1 = run(model, p, false);
    expect(model.gradients().buffer.toFloat32().every((v) => v === 0)).toBe(true);
    const stage2 = run(model, p, true);
    expect(model.gradients().buffer.toFloat32().some((v) => v !== 0)).toBe(true);
    expect(stage1.dImage).toEqual(stage2.dImage);
    const before = model.gradients().buffer.toFloat32();
    model.zeroGradients();
    const recomputed = run(model, p, true, true);
    expect(recomputed.loss).toBe(stage2.loss);
    expect(recomputed.dImage).toEqual(stage2.dImage);
    expect(model.gradients().buffer.toFloat32()).toEqual(before);
    model.dispose();
  });

  it('keeps the activations of a forward in one block per dtype, sized exactly', () => {
    const model = Qwen3Model.fromWeights(config, weights, { device, dtype: 'f32' });
    const p = problem(seed + 3);
    for (const recompute of [false, true]) {
      const state = model.forward({ ids: p.ids, batch: BATCH, tokens: TOKENS, seqLens: SEQ_LENS }, { recompute });
      expect(state.arena.allocations, `recompute ${recompute}`).toBe(1); // an f32 model: values and statistics share one f32 block
      releaseForward(state);
    }
    model.dispose();
    // One layer's count is exact (bf16 values, f32 statistics): one element less of each spills into a second block of each.
    const bf16 = Qwen3Model.fromWeights(config, weights, { device, dtype: 'bf16' });
    const { values, stats } = layerActivationElements(config, BATCH * TOKENS);
    using positions = Tensor.from(Int32Array.from({ length: BATCH * TOKENS }, (_, i) => i % TOKENS), [BATCH, TOKENS], { device });
    using seqLens = Tensor.from(SEQ_LENS, [BATCH], { device });
    using x = Tensor.from(Float32Array.from({ length: BATCH * TOKENS * 16 }, (_, i) => Math.sin(i)), [BATCH * TOKENS, 16], { dtype: 'bf16', device });
    const backward = layerBackwardElements(config, BATCH * TOKENS);
    const ctx = { config, batch: BATCH, tokens: TOKENS, positions, seqLens };
    // [slack, forward blocks, backward blocks]: the backward's only f32 request (the attention row sums) makes its own block fit.
    for (const [slack, blocks, backwardBlocks] of [[0, 2, 2], [-1, 4, 3]]) {
      const arena = new ActivationArena(device, { bf16: values + slack, f32: stats + slack });
      const { y, saved } = layerForward(bf16.layer(0), x, ctx, arena.allocate);
      expect(arena.allocations, `forward, hint ${slack} from exact`).toBe(blocks);
      const scratch = new ActivationArena(device, { bf16: backward.values + slack, f32: backward.stats + slack });
      layerBackward(bf16.layer(0), saved, y, ctx, undefined, { allocate: scratch.allocate }).dispose();
      expect(scratch.allocations, `backward, hint ${slack} from exact`).toBe(backwardBlocks);
      scratch.reset(); // every temporary was disposed
      y.dispose();
      arena.dispose();
      scratch.dispose();
    }
    const arena = new ActivationArena(device, { f32: 8 });
    const view = arena.take([2, 2], 'f32');
    expect(() => arena.reset()).toThrow(/still in use/);
    view.dispose();
    arena.reset();
    arena.dispose();
    bf16.dispose();
  });

  it('lowers the loss over a few AdamW steps', () => {
    const model = Qwen3Model.fromWeights(config, weights, { device, dtype: 'f32' });
    const p = problem(seed + 2);
    const states = [...model.params.tensors.values()].map((t) => ({ m: Tensor.zeros(t.shape, { device }), v: Tensor.zeros(t.shape, { device }) }));
    const losses: number[] = [];
    for (let step = 1; step <= 8; step++) {
      model.zeroGradients();
      const { loss, count } = run(model, p, true);
      losses.push(loss / count);
      [...model.params.tensors.values()].forEach((param, i) => {
        const grad = model.gradients().get([...model.params.tensors.keys()][i]);
        adamw(param, grad, states[i], { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step, gradScale: 1 / count });
      });
    }
    expect(losses.at(-1)!).toBeLessThan(0.8 * losses[0]);
    model.dispose();
  });
});

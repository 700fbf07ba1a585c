/**
 * The MoE compressor loaded from a TC-SSA-style state dict (plain JS records, key names as in
 * `moe_best.pt`, under a prefix) against a float64 forward written here from DESIGN.md §2,
 * independently of the op references. Also: slides of one patch, fewer patches than K, 40 000
 * patches, the empty-slide error, and the determinism of training noise.
 */
import { describe, expect, it } from 'vitest';

import { MoeCompressor } from '../lib/moe.js';
import type { StateRecord } from '../lib/moe.js';
import { runOp } from '../lib/ops.js';
import { Tensor } from '../lib/tensor.js';
import { backends } from './ops/harness.js';
import { Rng } from './ops/random.js';
import { erf } from './ops/reference/math.js';

const WIDTH = 1024;
const EXPERT_HIDDEN = 512;

function record(rng: Rng, shape: number[], scale: number, offset = 0): StateRecord {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = offset + scale * rng.normal();
  return { shape, data };
}

/** A state dict as TC-SSA's classifier wrapper saves it: the compressor under `moe.`, plus a head. */
function tcSsaStateDict(rng: Rng, k: number, width: number, hidden: number, prefix: string): Record<string, StateRecord> {
  const state: Record<string, StateRecord> = {
    [`${prefix}gate.weight`]: record(rng, [k, width], 1 / Math.sqrt(width)),
    [`${prefix}gate.bias`]: record(rng, [k], 0.1),
    'classifier.weight': record(rng, [3, width], 0.1),
  };
  for (let e = 0; e < k; e++) {
    state[`${prefix}experts.${e}.net.0.weight`] = record(rng, [hidden, width], 1 / Math.sqrt(width));
    state[`${prefix}experts.${e}.net.0.bias`] = record(rng, [hidden], 0.1);
    state[`${prefix}experts.${e}.net.3.weight`] = record(rng, [width, hidden], 1 / Math.sqrt(hidden));
    state[`${prefix}experts.${e}.net.3.bias`] = record(rng, [width], 0.1);
    state[`${prefix}experts.${e}.net.4.weight`] = record(rng, [width], 0.2, 1);
    state[`${prefix}experts.${e}.net.4.bias`] = record(rng, [width], 0.1);
  }
  return state;
}

/** The compressor in float64, inference mode, straight from the state dict: (S, K, D). */
function compressReference(state: Record<string, StateRecord>, prefix: string, x: Float32Array, offsets: number[], topK: number): Float64Array {
  const w = (name: string): ArrayLike<number> => state[prefix + name].data;
  const [k, d] = state[`${prefix}gate.weight`].shape;
  const hidden = state[`${prefix}experts.0.net.0.weight`].shape[0];
  const slides = offsets.length - 1;
  const out = new Float64Array(slides * k * d);
  const gateW = w('gate.weight');
  const gateB = w('gate.bias');
  for (let s = 0; s < slides; s++) {
    const num = new Float64Array(k * d);
    const den = new Float64Array(k);
    for (let n = offsets[s]; n < offsets[s + 1]; n++) {
      const logits = Array.from({ length: k }, (_, j) => {
        let v = gateB[j];
        for (let i = 0; i < d; i++) v += x[n * d + i] * gateW[j * d + i];
        return v;
      });
      const max = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - max));
      const total = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / total);
      const order = p.map((v, j) => [v, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      for (const [pj, j] of order.slice(0, topK)) {
        den[j] += pj;
        for (let i = 0; i < d; i++) num[j * d + i] += pj * x[n * d + i];
      }
    }
    for (let j = 0; j < k; j++) {
      const c = Array.from({ length: d }, (_, i) => num[j * d + i] / (den[j] + 1e-9));
      const w1 = w(`experts.${j}.net.0.weight`), b1 = w(`experts.${j}.net.0.bias`);
      const w2 = w(`experts.${j}.net.3.weight`), b2 = w(`experts.${j}.net.3.bias`);
      const g = w(`experts.${j}.net.4.weight`), beta = w(`experts.${j}.net.4.bias`);
      const act = Array.from({ length: hidden }, (_, h) => {
        let v = b1[h];
        for (let i = 0; i < d; i++) v += w1[h * d + i] * c[i];
        return 0.5 * v * (1 + erf(v / Math.SQRT2));
      });
      const y = Array.from({ length: d }, (_, i) => {
        let v = b2[i];
        for (let h = 0; h < hidden; h++) v += w2[i * hidden + h] * act[h];
        return v;
      });
      const mean = y.reduce((a, b) => a + b, 0) / d;
      const variance = y.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
      for (let i = 0; i < d; i++) out[(s * k + j) * d + i] = c[i] + ((y[i] - mean) / Math.sqrt(variance + 1e-5)) * g[i] + beta[i];
    }
  }
  return out;
}

function patches(rng: Rng, n: number, d: number): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return x;
}

function expectClose(actual: Float32Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(2e-4); // f32 sums of up to 1024 products
}

for (const { device, available } of backends()) describe.skipIf(!available)(`MoeCompressor from a TC-SSA state dict on ${device}`, () => {
  for (const [topK, offsets] of [
    [2, [0, 1, 4, 40]], // a slide of one patch, one of fewer patches than K = 16
    [1, [0, 7, 9]],
  ] as [number, number[]][]) {
    it(`matches the float64 reference: K 16, top-${topK}, slides ${offsets.slice(1).map((o, i) => o - offsets[i]).join('/')} patches`, () => {
      const rng = new Rng(17 + topK);
      const state = tcSsaStateDict(rng, 16, WIDTH, EXPERT_HIDDEN, 'moe.');
      const x = patches(rng, offsets[offsets.length - 1], WIDTH);
      const moe = MoeCompressor.fromStateDict(state, { topK, device });
      expect(moe.slots).toBe(16);
      expect(moe.params.has('classifier.weight')).toBe(false);
      using input = Tensor.from(x, [x.length / WIDTH, WIDTH], { device });
      const { out } = moe.forward(input, offsets);
      expect(out.shape).toEqual([offsets.length - 1, 16, WIDTH]);
      expectClose(out.toFloat32(), compressReference(state, 'moe.', x, offsets, topK));
      out.dispose();
      moe.dispose();
    });
  }

  it('K 5 (not a power of two), no prefix, narrow features', () => {
    const rng = new Rng(5);
    const state = tcSsaStateDict(rng, 5, 24, 8, '');
    const offsets = [0, 3, 11];
    const x = patches(rng, 11, 24);
    const moe = MoeCompressor.fromStateDict(state, { topK: 2, device });
    using input = Tensor.from(x, [11, 24], { device });
    const { out } = moe.forward(input, offsets);
    expectClose(out.toFloat32(), compressReference(state, '', x, offsets, 2));
    out.dispose();
    moe.dispose();
  });

  it('a slide of 40 000 patches', () => {
    const rng = new Rng(40000);
    const state = tcSsaStateDict(rng, 16, WIDTH, EXPERT_HIDDEN, 'moe.');
    const offsets = [0, 40000];
    const x = patches(rng, 40000, WIDTH);
    const moe = MoeCompressor.fromStateDict(state, { device });
    using input = Tensor.from(x, [40000, WIDTH], { device });
    const { out } = moe.forward(input, offsets);
    expectClose(out.toFloat32(), compressReference(state, 'moe.', x, offsets, 2));
    out.dispose();
    moe.dispose();
  }, 120_000);

  it('names the empty slide, in lib and in the op', () => {
    const rng = new Rng(3);
    const moe = MoeCompressor.fromStateDict(tcSsaStateDict(rng, 3, 8, 4, 'moe.'), { device });
    using x = Tensor.from(patches(rng, 5, 8), [5, 8], { device });
    expect(() => moe.forward(x, [0, 3, 3, 5])).toThrow(/slide 1 has no patches/);
    using weights = Tensor.zeros([5, 3], { device });
    using offsets = Tensor.from(Int32Array.of(0, 2, 5, 5), [4], { device });
    using slots = Tensor.empty([3, 3, 8], { device });
    using denom = Tensor.empty([3, 3], { device });
    expect(() => runOp('moe_slot_mean', { slots, denom, x, weights, offsets })).toThrow(/slide 2 has no patches/);
    moe.dispose();
  });

  it('names the slide whose gate logits are not finite, in lib and in the op', () => {
    const rng = new Rng(5);
    const moe = MoeCompressor.fromStateDict(tcSsaStateDict(rng, 3, 8, 4, 'moe.'), { device });
    const values = patches(rng, 9, 8);
    values[6 * 8 + 2] = Number.NaN; // patch 6: slide 1's third
    using x = Tensor.from(values, [9, 8], { device });
    expect(() => moe.forward(x, [0, 4, 9])).toThrow(/slide 1: the gate logit of patch row 6, slot 0 is nan \(its patch 2 of 5\)/);
    const logits = new Float32Array(5 * 4).fill(0.5);
    logits[3 * 4 + 2] = Number.POSITIVE_INFINITY;
    for (const dtype of ['f32', 'bf16'] as const) {
      using l = Tensor.from(logits, [5, 4], { dtype, device });
      const outputs = { probs: Tensor.empty([5, 4], { device }), weights: Tensor.empty([5, 4], { device }), slotLoad: Tensor.empty([4], { device }), slotProb: Tensor.empty([4], { device }), auxLoss: Tensor.empty([1], { device }) };
      expect(() => runOp('moe_route', { ...outputs, logits: l, topK: 2 })).toThrow(expect.objectContaining({ name: 'FormatError', message: expect.stringMatching(/patch row 3, slot 2 is inf/) }));
      using offsets = Tensor.from(Int32Array.of(0, 1, 5), [3], { device });
      expect(() => runOp('moe_route', { ...outputs, logits: l, offsets, topK: 2 })).toThrow(/slide 1: the gate logit of patch row 3, slot 2 is inf \(its patch 2 of 4\)/);
      for (const t of Object.values(outputs)) t.dispose();
    }
    moe.dispose();
  });

  it('adds noise only in training, the same for the same seed', () => {
    const rng = new Rng(9);
    const moe = MoeCompressor.fromStateDict(tcSsaStateDict(rng, 4, 16, 8, ''), { noise: 1, dropout: 0.2, device });
    using x = Tensor.from(patches(rng, 30, 16), [30, 16], { device });
    const run = (training: boolean, seed: number): Float32Array => {
      const { out, saved } = moe.forward(x, [0, 30], { training, seed });
      const values = out.toFloat32();
      out.dispose();
      if (saved) moe.backward(saved, Tensor.zeros([1, 4, 16], { device }), 0, new Map()).dispose();
      return values;
    };
    expect(run(false, 1)).toEqual(run(false, 2));
    expect(run(true, 1)).toEqual(run(true, 1));
    expect(run(true, 1)).not.toEqual(run(true, 2));
    expect(run(true, 1)).not.toEqual(run(false, 1));
    moe.dispose();
  });
});

/**
 * TC-SSA's per-slide routing losses: each term against values worked out by hand, the batch
 * split into slides (not pooled), and the gradient against central differences in float64.
 */
import { describe, expect, it } from 'vitest';
import { TC_SSA_ROUTER_LOSS, routerLosses } from '../../lib/train/routerLosses.js';
import { Rng, caseSeed } from '../ops/random.js';

const ln = Math.log;

function softmaxRows(logits: Float64Array, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / k; r++) {
    const row = logits.subarray(r * k, (r + 1) * k);
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    row.forEach((v, j) => (out[r * k + j] = Math.exp(v - max) / sum));
  }
  return out;
}

describe('per-slide routing losses (TC-SSA)', () => {
  // Slide 0: two patches routed to opposite slots, 1 : 3 odds; slide 1: one patch, 3 : 1.
  const logits = Float32Array.of(0, ln(3), ln(3), 0, ln(3), 0);
  const probs = Float32Array.of(0.25, 0.75, 0.75, 0.25, 0.75, 0.25);
  const input = { probs, logits, offsets: [0, 2, 3], slots: 2, topK: 1 };

  it('gives each term the value worked out by hand', () => {
    const { terms } = routerLosses(input);
    // Slide 0: P̄ = (½, ½), f = (½, ½): balance 2·(¼ + ¼) = 1, entropy 1 − ln 2 / ln 2 = 0.
    // Slide 1: P̄ = (¾, ¼), f = (1, 0): balance 2·¾ = 1.5, entropy 1 − H(¾, ¼) / ln 2.
    const h = -(0.75 * ln(0.75) + 0.25 * ln(0.25));
    expect(terms.balance).toBeCloseTo(1 + 1.5, 6);
    expect(terms.entropy).toBeCloseTo(0 + (1 - h / ln(2)), 6);
    // Every patch's logsumexp is ln 4 (1 + 3 on the exponential scale).
    expect(terms.zLoss).toBeCloseTo(2 * ln(4) ** 2, 5);
    const { balance, entropy, zLoss } = TC_SSA_ROUTER_LOSS;
    expect(terms.total).toBeCloseTo(balance * 2.5 + entropy * (1 - h / ln(2)) + zLoss * 2 * ln(4) ** 2, 6);
    expect(TC_SSA_ROUTER_LOSS).toEqual({ balance: 1, entropy: 0.5, zLoss: 1e-4 });
  });

  it('balances each slide on its own: the same patches as one slide are perfectly balanced', () => {
    const pooled = routerLosses({ ...input, offsets: [0, 3] }).terms;
    const perSlide = routerLosses(input).terms;
    // As one slide: P̄ = (7/12, 5/12), f = (2/3, 1/3): balance 2·(14/36 + 5/36) = 19/18.
    expect(pooled.balance).toBeCloseTo(19 / 18, 6);
    expect(perSlide.balance).toBeGreaterThan(2 * pooled.balance);
  });

  it('counts top-2 choices in f, so a balanced slide scores top-k', () => {
    const k = 4;
    const uniform = new Float32Array(2 * k).fill(0.25);
    const { terms } = routerLosses({ probs: uniform, logits: new Float32Array(2 * k), offsets: [0, 2], slots: k, topK: 2 });
    // Ties go to the lower slots: both patches choose slots 0 and 1, f = (1, 1, 0, 0).
    expect(terms.balance).toBeCloseTo(4 * (0.25 + 0.25), 6);
    expect(terms.entropy).toBeCloseTo(0, 6);
    expect(terms.zLoss).toBeCloseTo(2 * ln(4) ** 2 / 2, 5);
  });

  it('has the gradient of its weighted total to the logits (noisy routing, top-2, three slides)', () => {
    const seed = caseSeed('router losses gradient');
    console.log(`router losses gradient: seed ${seed}`);
    const rng = new Rng(seed);
    const [k, offsets] = [5, [0, 4, 5, 11]];
    const n = offsets.at(-1)!;
    const logits = Float64Array.from({ length: n * k }, () => 1.5 * rng.normal());
    const noise = Float64Array.from({ length: n * k }, () => 0.1 * rng.normal());
    const weights = { balance: 1, entropy: 0.5, zLoss: 0.05 }; // a z weight large enough to see
    const total = (l: Float64Array) => {
      const probs = softmaxRows(l.map((v, i) => v + noise[i]), k);
      return routerLosses({ probs, logits: Float32Array.from(l), offsets, slots: k, topK: 2 }, weights).terms.total;
    };
    const probs = softmaxRows(logits.map((v, i) => v + noise[i]), k);
    const { dLogits } = routerLosses({ probs, logits: Float32Array.from(logits), offsets, slots: k, topK: 2 }, weights, 2);
    const step = 1e-3;
    for (let i = 0; i < n * k; i++) {
      const [up, down] = [Float64Array.from(logits), Float64Array.from(logits)];
      up[i] += step;
      down[i] -= step;
      const numeric = (total(up) - total(down)) / (2 * step);
      expect(dLogits[i] / 2, `logit ${i}`).toBeCloseTo(numeric, 3);
    }
  });

  it('names the mismatch when probs and logits disagree with the offsets', () => {
    expect(() => routerLosses({ ...input, offsets: [0, 2] })).toThrow(/2 patches × 2 slots/);
  });
});

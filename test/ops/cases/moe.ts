/** Cases of the MoE routing ops: moe_route (+ backward), moe_slot_mean (+ backward), and the whole compressor's backward. */
import { MoeCompressor } from '../../../lib/moe.js';
import { runOp } from '../../../lib/ops.js';
import { Tensor } from '../../../lib/tensor.js';
import type { GradientCase, OpCase, Tolerance } from '../harness.js';
import { oneElementAware } from './layers.js';
import type { Rng } from '../random.js';
import { dropoutKeeps, gelu, layerNorm, linear } from '../reference/math.js';
import { inTopK, routeRef, slotMeanRef } from '../reference/moe.js';

// K not a power of two, K 32 and 64 (a CUDA lane's two slots), top-k 1, 2 and 4, noise off
// (inference) and on (training); N over several CUDA blocks of 256 patches.
const ROUTES: [n: number, k: number, topK: number, noise: number][] = [
  [1, 1, 1, 0],
  [33, 5, 2, 0],
  [127, 16, 2, 0.7],
  [1025, 7, 1, 1],
  [40, 64, 2, 0],
  [600, 32, 4, 0.3],
  [300, 33, 2, 0],
];

function routeCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [n, k, topK, noise] of ROUTES) {
    for (const dtype of ['f32', 'bf16'] as const) {
      const seed = 4242 + n;
      cases.push({
        name: `moe_route ${dtype} N${n} K${k} top${topK}${noise ? ` noise ${noise}` : ''}`,
        op: 'moe_route',
        inputs: { logits: { shape: [n, k], dtype, draw: (r) => 2 * r.normal() } },
        outputs: { probs: { shape: [n, k] }, weights: { shape: [n, k] }, slotLoad: { shape: [k] }, slotProb: { shape: [k] }, auxLoss: { shape: [1] } },
        attrs: { topK, noise, seed },
        reference: (v) => routeRef(v.logits, k, topK, noise, seed),
        // Sums over N patches in f32 for slotProb and the loss.
        tolerance: () => ({ atol: 1e-5 + 2e-7 * n, rtol: 1e-5, normalized: 1e-5 }),
      });
    }
    cases.push({
      name: `moe_route_backward N${n} K${k} top${topK}`,
      op: 'moe_route_backward',
      inputs: { probs: { shape: [n, k], draw: (r) => r.uniform() }, dweights: { shape: [n, k] }, slotLoad: { shape: [k], draw: (r) => r.uniform() } },
      outputs: { dlogits: { shape: [n, k] } },
      attrs: { topK, auxGrad: 0.3 },
      reference: (v) => {
        // probs here are any positive numbers: the op's formula does not need them normalized.
        const dlogits = new Float64Array(n * k);
        for (let r = 0; r < n; r++) {
          const p = v.probs.subarray(r * k, (r + 1) * k);
          const dp = Array.from({ length: k }, (_, j) => (inTopK(p, j, topK) ? v.dweights[r * k + j] : 0) + (0.3 * k * v.slotLoad[j]) / n);
          const dot = dp.reduce((a, g, j) => a + g * p[j], 0);
          for (let j = 0; j < k; j++) dlogits[r * k + j] = p[j] * (dp[j] - dot);
        }
        return { dlogits };
      },
      tolerance: oneElementAware(n * k, () => ({ atol: 1e-5, rtol: 1e-4, normalized: 1e-5 })),
    });
  }
  return cases;
}

/** Weights as routing leaves them: most zero, the rest in (0, 1). */
const sparseWeight = (r: Rng): number => (r.uniform() < 0.6 ? 0 : r.uniform());

/** A draw that replays `values` in order, once per run of the case. */
function replay(values: number[]): (r: Rng) => number {
  let next = 0;
  return () => values[next++ % values.length];
}

// Slides of 1 patch, fewer patches than K, uneven sizes; D odd; K 3 to 64 (each CUDA
// instantiation: 16, 32, 64 slots); slides over several CUDA chunks of 1024 and tiles of 32.
const LAYOUTS: [name: string, offsets: number[], d: number, k: number][] = [
  ['one slide of one patch', [0, 1], 33, 3],
  ['3 slides, fewer patches than K', [0, 2, 3, 7], 17, 5],
  ['4 uneven slides', [0, 40, 41, 140, 203], 129, 16],
  ['2 slides, K 7, D 1025', [0, 19, 50], 1025, 7],
  ['a slide of 2 497 patches (several CUDA chunks) after one of 3', [0, 3, 2500], 33, 3],
  ['K 32: slides of 1 500 (two CUDA chunks) and 70 patches, D 70', [0, 1500, 1570], 70, 32],
  ['K 64, D 65', [0, 33, 100], 65, 64],
];

function slotMeanCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [name, offsets, d, k] of LAYOUTS) {
    const n = offsets[offsets.length - 1];
    const s = offsets.length - 1;
    for (const dtype of ['f32', 'bf16'] as const) {
      cases.push({
        name: `moe_slot_mean ${dtype} ${name}`,
        op: 'moe_slot_mean',
        inputs: { x: { shape: [n, d], dtype }, weights: { shape: [n, k], draw: sparseWeight }, offsets: { shape: [s + 1], dtype: 'i32', draw: replay(offsets) } },
        outputs: { slots: { shape: [k, s, d] }, denom: { shape: [k, s] } },
        reference: (v) => slotMeanRef(v.x, v.weights, offsets, d, k),
        // A weighted mean of up to 100 patches in f32 (x may be bf16; slots are f32); a slot no
        // patch chose is exactly 0.
        tolerance: () => ({ atol: 2e-5, rtol: 2e-5, normalized: 2e-6 }),
      });
    }
    cases.push({
      name: `moe_slot_mean_backward ${name}`,
      op: 'moe_slot_mean_backward',
      inputs: {
        dslots: { shape: [k, s, d] },
        slots: { shape: [k, s, d] },
        denom: { shape: [k, s], draw: (r) => 0.5 + r.uniform() },
        x: { shape: [n, d] },
        weights: { shape: [n, k], draw: sparseWeight },
        offsets: { shape: [s + 1], dtype: 'i32', draw: replay(offsets) },
      },
      outputs: { dx: { shape: [n, d] }, dweights: { shape: [n, k] } },
      reference: (v) => {
        const dx = new Float64Array(n * d);
        const dweights = new Float64Array(n * k);
        for (let slide = 0; slide < s; slide++) {
          for (let r = offsets[slide]; r < offsets[slide + 1]; r++) {
            for (let j = 0; j < k; j++) {
              const den = v.denom[j * s + slide];
              const base = (j * s + slide) * d;
              let dot = 0;
              for (let i = 0; i < d; i++) {
                dx[r * d + i] += (v.weights[r * k + j] / den) * v.dslots[base + i];
                dot += v.dslots[base + i] * (v.x[r * d + i] - v.slots[base + i]);
              }
              dweights[r * k + j] = dot / den;
            }
          }
        }
        return { dx, dweights };
      },
      tolerance: () => ({ atol: 1e-5 + 4e-7 * d, rtol: 1e-4, normalized: 1e-5 }),
    });
  }
  return cases;
}

export const moeOpCases: OpCase[] = [...routeCases(), ...slotMeanCases()];

// ---- gradients against finite differences ----

/** Float64 forward of the whole compressor (training mode when noise or dropout is set). */
function compressorRef(p: Record<string, Float64Array>, offsets: number[], d: number, k: number, hidden: number, o: { topK: number; noise: number; dropout: number; seed: number }): { out: Float64Array; aux: number } {
  const n = offsets[offsets.length - 1];
  const s = offsets.length - 1;
  const route = routeRef(linear(p.x, p['gate.weight'], p['gate.bias'], n, k, d), k, o.topK, o.noise, o.seed);
  const { slots } = slotMeanRef(p.x, route.weights, offsets, d, k);
  const out = new Float64Array(s * k * d);
  for (let e = 0; e < k; e++) {
    const c = slots.subarray(e * s * d, (e + 1) * s * d);
    const seed = (o.seed * 65537 + 7919 * (e + 1)) % 2 ** 52;
    const act = linear(c, p[`experts.${e}.net.0.weight`], p[`experts.${e}.net.0.bias`], s, hidden, d).map((v, i) => (o.dropout > 0 ? (dropoutKeeps(seed, i, o.dropout) ? gelu(v) / (1 - Math.fround(o.dropout)) : 0) : gelu(v)));
    const h2 = linear(act, p[`experts.${e}.net.3.weight`], p[`experts.${e}.net.3.bias`], s, d, hidden);
    const norm = layerNorm(h2, p[`experts.${e}.net.4.weight`], p[`experts.${e}.net.4.bias`], d, 1e-5).out;
    for (let slide = 0; slide < s; slide++) for (let i = 0; i < d; i++) out[(slide * k + e) * d + i] = c[slide * d + i] + norm[slide * d + i];
  }
  return { out, aux: route.auxLoss[0] };
}

function compressorGradientCase(name: string, offsets: number[], d: number, k: number, hidden: number, o: { topK: number; noise: number; dropout: number; seed: number }): GradientCase {
  const n = offsets[offsets.length - 1];
  const s = offsets.length - 1;
  const params: GradientCase['params'] = { x: { shape: [n, d] }, 'gate.weight': { shape: [k, d] }, 'gate.bias': { shape: [k] } };
  for (let e = 0; e < k; e++) {
    params[`experts.${e}.net.0.weight`] = { shape: [hidden, d] };
    params[`experts.${e}.net.0.bias`] = { shape: [hidden] };
    params[`experts.${e}.net.3.weight`] = { shape: [d, hidden] };
    params[`experts.${e}.net.3.bias`] = { shape: [d] };
    params[`experts.${e}.net.4.weight`] = { shape: [d], draw: (r) => 1 + 0.3 * r.normal() };
    params[`experts.${e}.net.4.bias`] = { shape: [d] };
  }
  return {
    name,
    params,
    // The compressor's output, then its aux loss: dy's last element is the aux loss's weight.
    outShape: [s * k * d + 1],
    forward: (p) => {
      const { out, aux } = compressorRef(p, offsets, d, k, hidden, o);
      return Float64Array.from([...out, aux]);
    },
    backward: (p, dy) => {
      const device = p.x.device;
      const dyHost = dy.toFloat32();
      const weights = new Map(Object.entries(p).filter(([key]) => key !== 'x'));
      const moe = new MoeCompressor(weights, { topK: o.topK, noise: o.noise, dropout: o.dropout });
      const { out, saved } = moe.forward(p.x, offsets, { training: true, seed: o.seed });
      out.dispose();
      const dOut = Tensor.from(dyHost.subarray(0, s * k * d), [s, k, d], { device });
      const grads = new Map<string, Tensor>();
      const dx = moe.backward(saved!, dOut, dyHost[s * k * d], grads);
      dOut.dispose();
      return { x: dx, ...Object.fromEntries(grads) };
    },
    // f32 through a softmax, a weighted mean, two GEMMs and a LayerNorm.
    tolerance: { atol: 5e-4, rtol: 2e-3, normalized: 5e-4 } satisfies Tolerance,
  };
}

export const moeGradientCases: GradientCase[] = [
  {
    name: 'moe_route backward N 9 K 5 top 2 noise 0.5 (+ aux loss)',
    params: { logits: { shape: [9, 5], draw: (r) => 2 * r.normal() } },
    outShape: [9 * 5 + 1],
    forward: (p) => {
      const r = routeRef(p.logits, 5, 2, 0.5, 77);
      return Float64Array.from([...r.weights, r.auxLoss[0]]);
    },
    backward: (p, dy) => {
      const device = p.logits.device;
      const dyHost = dy.toFloat32();
      const t = (shape: number[]): Tensor => Tensor.empty(shape, { device });
      const [probs, weights, slotLoad, slotProb, auxLoss, dlogits] = [t([9, 5]), t([9, 5]), t([5]), t([5]), t([1]), t([9, 5])];
      runOp('moe_route', { probs, weights, slotLoad, slotProb, auxLoss, logits: p.logits, topK: 2, noise: 0.5, seed: 77 });
      const dweights = Tensor.from(dyHost.subarray(0, 45), [9, 5], { device });
      runOp('moe_route_backward', { dlogits, probs, dweights, slotLoad, topK: 2, auxGrad: dyHost[45] });
      for (const x of [probs, weights, slotLoad, slotProb, auxLoss, dweights]) x.dispose();
      return { logits: dlogits };
    },
  },
  {
    name: 'moe_slot_mean backward 3 slides K 4',
    // Positive weights: at w = 0 the +1e-9 denominator makes the true derivative ~1e9·x, which
    // finite differences cannot follow (routing never passes a gradient to an unchosen slot).
    params: { x: { shape: [8, 6] }, weights: { shape: [8, 4], draw: (r) => 0.05 + r.uniform() } },
    outShape: [4 * 3 * 6],
    forward: (p) => slotMeanRef(p.x, p.weights, [0, 1, 3, 8], 6, 4).slots,
    backward: (p, dy) => {
      const device = p.x.device;
      const offsets = Tensor.from(Int32Array.of(0, 1, 3, 8), [4], { device });
      const slots = Tensor.empty([4, 3, 6], { device });
      const denom = Tensor.empty([4, 3], { device });
      runOp('moe_slot_mean', { slots, denom, x: p.x, weights: p.weights, offsets });
      const dx = Tensor.empty([8, 6], { device });
      const dweights = Tensor.empty([8, 4], { device });
      using dslots = dy.reshape([4, 3, 6]);
      runOp('moe_slot_mean_backward', { dx, dweights, dslots, slots, denom, x: p.x, weights: p.weights, offsets });
      for (const x of [offsets, slots, denom]) x.dispose();
      return { x: dx, weights: dweights };
    },
    tolerance: { atol: 1e-4, rtol: 1e-3, normalized: 1e-4 },
  },
  compressorGradientCase('MoE compressor backward, inference routing, K 3 top 2', [0, 2, 7], 6, 3, 4, { topK: 2, noise: 0, dropout: 0, seed: 5 }),
  compressorGradientCase('MoE compressor backward, training (noise, dropout), K 5 top 1', [0, 1, 4, 9], 5, 5, 3, { topK: 1, noise: 0.8, dropout: 0.25, seed: 11 }),
];

/**
 * Stage 0's classifier heads (lib/train/classifierHead.ts) against central differences of a
 * float64 forward written here: TC-SSA's LayerNorm → Linear → GELU → Linear (dropout off), and the
 * seed's bias-free linear head.
 */
import { ClassifierHead, HEAD_HIDDEN } from '../../../lib/train/classifierHead.js';
import { scale } from '../../../lib/ops.js';
import type { Tensor } from '../../../lib/tensor.js';
import type { GradientCase } from '../harness.js';
import { gelu } from '../reference/math.js';

const [SLIDES, WIDTH, CLASSES] = [3, 7, 4];

/** y (rows, out) = x (rows, in) · wᵀ + b. */
function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | undefined, rows: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let v = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) v += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = v;
    }
  }
  return y;
}

function layerNormRef(x: Float64Array, w: Float64Array, b: Float64Array, rows: number, d: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * d, (r + 1) * d);
    const mean = row.reduce((s, v) => s + v, 0) / d;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / d;
    const rstd = 1 / Math.sqrt(variance + 1e-5);
    row.forEach((v, i) => (y[r * d + i] = (v - mean) * rstd * w[i] + b[i]));
  }
  return y;
}

/** The head on `device` with the drawn parameters, run forward and backward as stage 0 does (dropout off). */
function headBackward(kind: 'mlp' | 'linear', p: Record<string, Tensor>, dy: Tensor): Record<string, Tensor> {
  const head = new ClassifierHead(kind, WIDTH, CLASSES, { device: p.pooled.device });
  for (const [name, value] of head.params) scale(p[name], 1, { out: value });
  const { logits, saved } = head.forward(p.pooled);
  logits.dispose();
  const dPooled = head.backward(saved, dy);
  const grads = Object.fromEntries([...head.grads].map(([name, g]) => [name, scale(g, 1)]));
  head.dispose();
  return { pooled: dPooled, ...grads };
}

export const classifierHeadGradientCases: GradientCase[] = [
  {
    name: 'stage-0 head: LayerNorm → Linear → GELU → Linear (TC-SSA), 3 slides, 4 classes',
    params: {
      pooled: { shape: [SLIDES, WIDTH] },
      '0.weight': { shape: [WIDTH], draw: (r) => 1 + 0.3 * r.normal() },
      '0.bias': { shape: [WIDTH] },
      '1.weight': { shape: [HEAD_HIDDEN, WIDTH], draw: (r) => 0.4 * r.normal() },
      '1.bias': { shape: [HEAD_HIDDEN] },
      '4.weight': { shape: [CLASSES, HEAD_HIDDEN], draw: (r) => 0.05 * r.normal() },
      '4.bias': { shape: [CLASSES] },
    },
    outShape: [SLIDES, CLASSES],
    forward: (p) => {
      const normed = layerNormRef(p.pooled, p['0.weight'], p['0.bias'], SLIDES, WIDTH);
      const hidden = linearRef(normed, p['1.weight'], p['1.bias'], SLIDES, WIDTH, HEAD_HIDDEN).map(gelu);
      return linearRef(hidden, p['4.weight'], p['4.bias'], SLIDES, HEAD_HIDDEN, CLASSES);
    },
    backward: (p, dy) => headBackward('mlp', p, dy),
    // f32 through a LayerNorm and two GEMMs, one of them 512 wide.
    tolerance: { atol: 2e-4, rtol: 1e-3, normalized: 1e-4 },
  },
  {
    name: 'stage-0 head: linear without bias (the seed), 3 slides, 4 classes',
    params: { pooled: { shape: [SLIDES, WIDTH] }, weight: { shape: [CLASSES, WIDTH] } },
    outShape: [SLIDES, CLASSES],
    forward: (p) => linearRef(p.pooled, p.weight, undefined, SLIDES, WIDTH, CLASSES),
    backward: (p, dy) => headBackward('linear', p, dy),
  },
];

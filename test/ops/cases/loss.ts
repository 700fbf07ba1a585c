/** Cases of the fused linear cross-entropy: odd vocabularies and chunks, ignored labels, bf16. */
import type { DType } from '../../../lib/dtype.js';
import { linearCrossEntropy } from '../../../lib/crossEntropy.js';
import { IGNORE_LABEL } from '../../../lib/text/chat.js';
import { Tensor } from '../../../lib/tensor.js';
import type { GradientCase, OpCase } from '../harness.js';
import type { Rng } from '../random.js';

/** Float64 loss, count and gradients (of gradScale·loss) of hidden (T, H) · weightᵀ (V, H). */
export function crossEntropyRef(hidden: Float64Array, weight: Float64Array, labels: ArrayLike<number>, h: number, v: number, gradScale = 1) {
  const t = labels.length;
  let loss = 0;
  let count = 0;
  const tokenLoss = new Float64Array(t);
  const dhidden = new Float64Array(t * h);
  const dweight = new Float64Array(v * h);
  for (let i = 0; i < t; i++) {
    if (labels[i] === IGNORE_LABEL) continue;
    count++;
    const logits = Array.from({ length: v }, (_, j) => {
      let s = 0;
      for (let c = 0; c < h; c++) s += hidden[i * h + c] * weight[j * h + c];
      return s;
    });
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((a, l) => a + Math.exp(l - max), 0));
    tokenLoss[i] = lse - logits[labels[i]];
    loss += tokenLoss[i];
    for (let j = 0; j < v; j++) {
      const g = gradScale * (Math.exp(logits[j] - lse) - (j === labels[i] ? 1 : 0));
      for (let c = 0; c < h; c++) {
        dhidden[i * h + c] += g * weight[j * h + c];
        dweight[j * h + c] += g * hidden[i * h + c];
      }
    }
  }
  return { loss, count, tokenLoss, dhidden, dweight };
}

/** Labels in [0, v), or −100 with probability `ignored`. */
function labelDraw(v: number, ignored: number): (r: Rng) => number {
  return (r) => (r.uniform() < ignored ? IGNORE_LABEL : Math.min(v - 1, Math.floor(r.uniform() * v)));
}

// Vocabulary not a multiple of the chunk, tokens not a multiple of the chunk, chunks and
// batches with no labels at all. bf16 hidden and weight take the CUDA path that keeps the
// chunk's gradient in bf16 beside its logits (a chunk of at most 2/3 of the workspace's rows),
// except with a one-row workspace; mixed and f16 inputs keep it in f32.
interface LossCase {
  name: string;
  t: number;
  h: number;
  v: number;
  chunk: number;
  /** Default chunk + 2: more rows than the chunk, of which only `chunk` may be used. */
  workspaceRows?: number;
  ignored: number;
  hidden: DType;
  weight: DType;
  /** Spread of the logits: weight ~ N(0, (scale / √H)²). Default 2 (logits within about ±8). */
  logitScale?: number;
  /** Ask for each token's loss too (tokenLoss). Default true. */
  tokenLoss?: boolean;
}

const CASES: LossCase[] = [
  { name: 'one token', t: 1, h: 1, v: 1, chunk: 1, ignored: 0, hidden: 'f32', weight: 'f32', tokenLoss: false },
  { name: 'T 29 H 33 V 37 chunk 8', t: 29, h: 33, v: 37, chunk: 8, ignored: 0.3, hidden: 'f32', weight: 'f32' },
  { name: 'T 29 H 33 V 37 chunk 8 bf16', t: 29, h: 33, v: 37, chunk: 8, ignored: 0.3, hidden: 'bf16', weight: 'bf16' },
  { name: 'T 17 H 65 V 1025 chunk 5, workspace 7 rows', t: 17, h: 65, v: 1025, chunk: 5, workspaceRows: 7, ignored: 0.5, hidden: 'f32', weight: 'f32' },
  { name: 'T 33 H 16 V 300 chunk 33 most ignored', t: 33, h: 16, v: 300, chunk: 33, ignored: 0.9, hidden: 'f32', weight: 'f32' },
  { name: 'all ignored', t: 12, h: 8, v: 19, chunk: 4, ignored: 1, hidden: 'f32', weight: 'f32' },
  { name: 'T 70 H 40 V 1531 chunk 21, workspace 21 rows, bf16', t: 70, h: 40, v: 1531, chunk: 21, workspaceRows: 21, ignored: 0.2, hidden: 'bf16', weight: 'bf16', tokenLoss: false },
  { name: 'T 9 H 24 V 301 chunk 1, one-row workspace bf16', t: 9, h: 24, v: 301, chunk: 1, workspaceRows: 1, ignored: 0.2, hidden: 'bf16', weight: 'bf16' },
  { name: 'T 23 H 16 V 211 chunk 6 all bf16 labelled', t: 23, h: 16, v: 211, chunk: 6, ignored: 0, hidden: 'bf16', weight: 'bf16' },
  { name: 'T 19 H 24 V 97 chunk 7 bf16 hidden, f32 weight', t: 19, h: 24, v: 97, chunk: 7, ignored: 0.3, hidden: 'bf16', weight: 'f32' },
  { name: 'T 19 H 24 V 97 chunk 7 f16', t: 19, h: 24, v: 97, chunk: 7, ignored: 0.3, hidden: 'f16', weight: 'f16' },
  // Logits over about ±150: most of each row's exp underflows to 0, and the vocabulary ends in a partial vector.
  { name: 'T 13 H 20 V 4099 chunk 6, logits spread wide', t: 13, h: 20, v: 4099, chunk: 6, ignored: 0.2, hidden: 'f32', weight: 'f32', logitScale: 40 },
];

function crossEntropyCases(): OpCase[] {
  return CASES.map(({ name, t, h, v, chunk, workspaceRows, ignored, hidden, weight, logitScale = 2, tokenLoss = true }) => {
    // A 16-bit input rounds the gradient's terms (bf16 on CUDA) or its output to 8 or 11 bits.
    const sixteenBit = hidden !== 'f32' || weight !== 'f32';
    return {
      name: `linear_cross_entropy ${name}`,
      op: 'linear_cross_entropy',
      inputs: {
        hidden: { shape: [t, h], dtype: hidden },
        weight: { shape: [v, h], dtype: weight, draw: (r: Rng) => (logitScale * r.normal()) / Math.sqrt(h) },
        labels: { shape: [t], dtype: 'i32', draw: labelDraw(v, ignored) },
        workspace: { shape: [workspaceRows ?? chunk + 2, v] },
      },
      // dweight is f32 (the master-gradient dtype): a bf16 one would be rounded once per chunk.
      outputs: {
        loss: { shape: [1] },
        count: { shape: [1] },
        ...(tokenLoss ? { tokenLoss: { shape: [t] } } : {}),
        dhidden: { shape: [t, h], dtype: hidden },
        dweight: { shape: [v, h], initial: true },
      },
      attrs: { chunk, gradScale: 0.25 },
      reference: (val) => {
        const r = crossEntropyRef(val.hidden, val.weight, val.labels, h, v, 0.25);
        const outputs = { loss: Float64Array.of(r.loss), count: Float64Array.of(r.count), dhidden: r.dhidden, dweight: r.dweight.map((g, i) => g + val.dweight[i]) };
        return tokenLoss ? { ...outputs, tokenLoss: r.tokenLoss } : outputs;
      },
      // Sums of T token losses and of T·V gradient terms in f32.
      tolerance: () => (sixteenBit ? { atol: 2e-3, rtol: 1e-2, normalized: 5e-3 } : { atol: 2e-5 * Math.sqrt(t * v), rtol: 1e-4, normalized: 1e-5 }),
    };
  });
}

export const lossOpCases: OpCase[] = crossEntropyCases();

/** Gradient of the summed loss through lib's gather → op → scatter, for labels fixed per case. */
function gradientCase(name: string, t: number, h: number, v: number, chunk: number, labels: number[]): GradientCase {
  return {
    name,
    params: { hidden: { shape: [t, h] }, weight: { shape: [v, h] } },
    outShape: [1],
    forward: (p) => Float64Array.of(crossEntropyRef(p.hidden, p.weight, labels, h, v).loss),
    backward: (p, dy) => {
      const weightGrad = Tensor.zeros([v, h], { device: p.weight.device });
      const r = linearCrossEntropy(p.hidden, p.weight, Int32Array.from(labels), { chunk, gradScale: dy.toFloat32()[0], weightGrad });
      return { hidden: r.dHidden!, weight: weightGrad };
    },
  };
}

export const lossGradientCases: GradientCase[] = [
  gradientCase('linear cross-entropy backward, T 11 V 23 chunk 4, some ignored', 11, 7, 23, 4, [3, -100, 22, 0, -100, -100, 5, 5, 17, -100, 1]),
  gradientCase('linear cross-entropy backward, all ignored', 5, 4, 9, 2, [-100, -100, -100, -100, -100]),
];

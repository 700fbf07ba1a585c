/**
 * Stage 0's classifier head on the mean of a slide's K slot tokens, with its backward, over the
 * op table (CPU or CUDA):
 * - `mlp` (default, TC-SSA's `WSI_Classifier.classifier`): LayerNorm(D) → Linear(D, 512) → GELU
 *   → Dropout(0.3) → Linear(512, C), parameters named as in its `nn.Sequential` (`0.*` LayerNorm,
 *   `1.*` and `4.*` the linear layers), initialised as PyTorch does;
 * - `linear` (the seed's): one Linear(D, C) without bias (`weight`, N(0, 0.02)).
 * The cross-entropy itself is on the host: C is a handful of classes.
 */
import { dropout, geluBackward, layerNorm, layerNormBackward, linearGelu } from '../layers.js';
import { linearBackward, matmul } from '../ops.js';
import type { Device } from '../native.js';
import { fill } from '../qwen3Ops.js';
import { mulberry32, normalSamples } from '../random.js';
import { Tensor } from '../tensor.js';

export type HeadKind = 'mlp' | 'linear';

/** The MLP head's inner width and dropout (TC-SSA's). */
export const HEAD_HIDDEN = 512;
export const HEAD_DROPOUT = 0.3;

/** What a training forward keeps for the backward. */
export interface HeadSaved {
  pooled: Tensor;
  normed?: Tensor;
  norm?: { mean: Tensor; rstd: Tensor };
  pre?: Tensor;
  act?: Tensor;
  seed: number;
  training: boolean;
}

/** Every parameter's name and shape. */
export function headShapes(kind: HeadKind, width: number, classes: number): Map<string, number[]> {
  if (kind === 'linear') return new Map([['weight', [classes, width]]]);
  return new Map([
    ['0.weight', [width]],
    ['0.bias', [width]],
    ['1.weight', [HEAD_HIDDEN, width]],
    ['1.bias', [HEAD_HIDDEN]],
    ['4.weight', [classes, HEAD_HIDDEN]],
    ['4.bias', [classes]],
  ]);
}

export class ClassifierHead {
  readonly kind: HeadKind;
  readonly classes: number;
  readonly params: Map<string, Tensor>;
  readonly grads: Map<string, Tensor>;

  constructor(kind: HeadKind, width: number, classes: number, options: { seed?: number; device?: Device } = {}) {
    this.kind = kind;
    this.classes = classes;
    const random = mulberry32(options.seed ?? 0);
    this.params = new Map();
    this.grads = new Map();
    for (const [name, shape] of headShapes(kind, width, classes)) {
      const count = shape.reduce((a, b) => a * b, 1);
      let values: Float32Array;
      if (kind === 'linear') values = normalSamples(count, 0.02, random); // small, so the first gradients reach the compressor
      else if (name.startsWith('0.')) values = new Float32Array(count).fill(name.endsWith('weight') ? 1 : 0);
      else {
        const bound = 1 / Math.sqrt(name.startsWith('1.') ? width : HEAD_HIDDEN);
        values = Float32Array.from({ length: count }, () => (2 * random() - 1) * bound);
      }
      this.params.set(name, Tensor.from(values, shape, { device: options.device }));
      this.grads.set(name, Tensor.zeros(shape, { device: options.device }));
    }
  }

  #p(name: string): Tensor {
    return this.params.get(name)!;
  }

  /** Logits (S, C) of pooled slides (S, D); training turns dropout on and keeps what {@link backward} needs. */
  forward(pooled: Tensor, options: { training?: boolean; seed?: number } = {}): { logits: Tensor; saved: HeadSaved } {
    const training = options.training ?? false;
    const seed = options.seed ?? 0;
    const device = pooled.device;
    const logits = Tensor.empty([pooled.shape[0], this.classes], { device });
    if (this.kind === 'linear') {
      matmul(pooled, this.#p('weight'), { transB: true, out: logits });
      return { logits, saved: { pooled, seed, training } };
    }
    const { out: normed, saved: norm } = layerNorm(pooled, this.#p('0.weight'), this.#p('0.bias'));
    const { out: act, pre } = linearGelu(normed, this.#p('1.weight'), this.#p('1.bias'));
    if (training) dropout(act, HEAD_DROPOUT, seed, { out: act });
    matmul(act, this.#p('4.weight'), { transB: true, bias: this.#p('4.bias'), out: logits });
    return { logits, saved: { pooled, normed, norm, pre, act, seed, training } };
  }

  /** Accumulates the parameters' gradients from dLogits (S, C); returns dPooled (S, D). Releases `saved` (not its `pooled`). */
  backward(saved: HeadSaved, dLogits: Tensor): Tensor {
    const g = (name: string) => this.grads.get(name)!;
    if (this.kind === 'linear') return linearBackward(saved.pooled, this.#p('weight'), dLogits, { accumulateInto: { dWeight: g('weight') } }).dx;
    const { normed, norm, pre, act } = saved as Required<HeadSaved>;
    const fc2 = linearBackward(act, this.#p('4.weight'), dLogits, { bias: true, accumulateInto: { dWeight: g('4.weight'), dBias: g('4.bias') } });
    if (saved.training) dropout(fc2.dx, HEAD_DROPOUT, saved.seed, { out: fc2.dx });
    geluBackward(pre, fc2.dx, { out: fc2.dx });
    const fc1 = linearBackward(normed, this.#p('1.weight'), fc2.dx, { bias: true, accumulateInto: { dWeight: g('1.weight'), dBias: g('1.bias') } });
    const dPooled = layerNormBackward(saved.pooled, this.#p('0.weight'), norm, fc1.dx, { dWeight: g('0.weight'), dBias: g('0.bias') });
    for (const t of [normed, norm.mean, norm.rstd, pre, act, fc2.dx, fc1.dx]) t.dispose();
    return dPooled;
  }

  /** Releases a forward's saved state without a backward (inference). */
  release(saved: HeadSaved): void {
    for (const t of [saved.normed, saved.norm?.mean, saved.norm?.rstd, saved.pre, saved.act]) t?.dispose();
  }

  zeroGradients(): void {
    for (const g of this.grads.values()) fill(g);
  }

  dispose(): void {
    for (const t of [...this.params.values(), ...this.grads.values()]) t.dispose();
  }
}

/**
 * Summed cross-entropy of logits (S, C) against labels on the host, and its gradient
 * (softmax − one-hot) scaled by `gradScale`.
 */
export function crossEntropyOnHost(logits: Float32Array, labels: Int32Array, classes: number, gradScale = 1): { loss: number; dLogits: Float32Array } {
  const dLogits = new Float32Array(logits.length);
  let loss = 0;
  labels.forEach((label, s) => {
    const row = logits.subarray(s * classes, (s + 1) * classes);
    const max = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    loss += lse - row[label];
    for (let c = 0; c < classes; c++) dLogits[s * classes + c] = gradScale * (Math.exp(row[c] - lse) - (c === label ? 1 : 0));
  });
  return { loss, dLogits };
}

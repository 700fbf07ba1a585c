/**
 * Token cross-entropy straight from the final hidden states and the LM head:
 * only labelled positions are gathered before the LM-head GEMM, and logits exist for one chunk
 * of tokens at a time (`linear_cross_entropy` op), never for the whole batch.
 */
import { runOp } from './ops.js';
import { Tensor } from './tensor.js';
import { IGNORE_LABEL } from './text/chat.js';

/** Tokens whose logits are held at once unless said otherwise: 256 × 151 936 f32 ≈ 156 MB. */
export const DEFAULT_CHUNK = 256;

export interface LinearCrossEntropyOptions {
  /** Tokens per chunk of logits. Default {@link DEFAULT_CHUNK}. */
  chunk?: number;
  /** Scales the gradients: the upstream gradient of the summed loss (e.g. 1 / answer tokens of the step). Default 1. */
  gradScale?: number;
  /** Return dHidden (T, H) (overwritten; 0 at ignored positions). Default true. */
  hiddenGrad?: boolean;
  /** Accumulate (+=) the LM-head gradient (V, H) into this tensor. Default: none. */
  weightGrad?: Tensor;
  /** Scratch for one chunk's logits, (≥ chunk, V) f32; allocated per call when not given. */
  workspace?: Tensor;
  /** Return each token's loss as well (Hugging Face's reduction='none'). Default false. */
  tokenLosses?: boolean;
}

export interface LinearCrossEntropyResult {
  /** Σ over labelled tokens of −log softmax(logits)[label], in nats. */
  loss: number;
  /** Labelled tokens counted (normalize by the sum of these over an optimizer step). */
  count: number;
  /** (T, H), hidden's dtype, when asked for. */
  dHidden?: Tensor;
  /** (T) on the host with `tokenLosses`: each token's −log softmax(logits)[label], 0 where ignored. */
  tokenLosses?: Float32Array;
}

/**
 * Summed cross-entropy of hidden (T, H) · weightᵀ (V, H) against labels (T) on the host
 * (values in [0, V) or −100), with its gradients. A batch without labels gives 0 and zero
 * gradients.
 */
export function linearCrossEntropy(hidden: Tensor, weight: Tensor, labels: Int32Array, options: LinearCrossEntropyOptions = {}): LinearCrossEntropyResult {
  const [tokens, width] = hidden.shape;
  const vocab = weight.shape[0];
  if (labels.length !== tokens) throw new RangeError(`'labels' has ${labels.length} entries but 'hidden' has ${tokens} rows`);
  const rows: number[] = [];
  labels.forEach((label, t) => {
    if (label === IGNORE_LABEL) return;
    if (!(label >= 0 && label < vocab)) throw new RangeError(`labels[${t}] = ${label} is neither ${IGNORE_LABEL} nor in [0, ${vocab})`);
    rows.push(t);
  });
  const device = hidden.device;
  const wantHidden = options.hiddenGrad ?? true;
  if (rows.length === 0) {
    return {
      loss: 0,
      count: 0,
      dHidden: wantHidden ? Tensor.zeros(hidden.shape, { dtype: hidden.dtype, device }) : undefined,
      tokenLosses: options.tokenLosses ? new Float32Array(tokens) : undefined,
    };
  }
  const owned: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (owned.push(t), t);
  try {
    const all = rows.length === tokens;
    const index = all ? undefined : keep(Tensor.from(Int32Array.from(rows), [rows.length], { device }));
    let picked = hidden;
    if (index) {
      picked = keep(Tensor.empty([rows.length, width], { dtype: hidden.dtype, device }));
      runOp('gather_rows', { out: picked, x: hidden, index });
    }
    const pickedLabels = keep(Tensor.from(Int32Array.from(rows, (t) => labels[t]), [rows.length], { device }));
    const chunk = Math.min(options.chunk ?? DEFAULT_CHUNK, rows.length);
    const workspace = options.workspace ?? keep(Tensor.empty([chunk, vocab], { device }));
    const loss = keep(Tensor.empty([1], { device }));
    const count = keep(Tensor.empty([1], { device }));
    const dPicked = wantHidden ? Tensor.empty(picked.shape, { dtype: hidden.dtype, device }) : undefined;
    const pickedLosses = options.tokenLosses ? keep(Tensor.empty([rows.length], { device })) : undefined;
    runOp('linear_cross_entropy', {
      loss, count, tokenLoss: pickedLosses, dhidden: dPicked, dweight: options.weightGrad, hidden: picked, weight, labels: pickedLabels, workspace, chunk, gradScale: options.gradScale,
    });
    let tokenLosses: Float32Array | undefined;
    if (pickedLosses) {
      const values = pickedLosses.toFloat32();
      tokenLosses = new Float32Array(tokens);
      rows.forEach((t, i) => (tokenLosses![t] = values[i]));
    }
    let dHidden = dPicked;
    if (dPicked && index) {
      keep(dPicked);
      dHidden = Tensor.empty(hidden.shape, { dtype: hidden.dtype, device });
      runOp('scatter_rows', { out: dHidden, x: dPicked, index });
    }
    return { loss: loss.toFloat32()[0], count: count.toFloat32()[0], dHidden, tokenLosses };
  } finally {
    for (const t of owned) t.dispose();
  }
}

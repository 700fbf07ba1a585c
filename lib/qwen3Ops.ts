/**
 * The Qwen3 layer ops from TypeScript: RMSNorm, rotary embedding, SwiGLU, the token embedding,
 * and the optimizer's fused AdamW step and gradient norm. Each runs on its tensors' device.
 */
import { runOp } from './ops.js';
import { Tensor } from './tensor.js';

/**
 * x (rows, D) normalized by its root mean square, times weight (D); rstd (rows) f32 is kept for
 * the backward. `out` and `rstd` are written into when given.
 */
export function rmsNorm(x: Tensor, weight: Tensor, options: { eps?: number; out?: Tensor; rstd?: Tensor } = {}): { out: Tensor; rstd: Tensor } {
  const out = options.out ?? Tensor.empty(x.shape, { dtype: x.dtype, device: x.device });
  const rstd = options.rstd ?? Tensor.empty([x.shape.slice(0, -1).reduce((a, b) => a * b, 1)], { device: x.device });
  runOp('rms_norm', { out, rstd, x, weight, eps: options.eps });
  return { out, rstd };
}

/** dx of {@link rmsNorm} (written into `dx` when given; it may be dy); the weight gradient is added to `dWeight` (f32) when given. */
export function rmsNormBackward(x: Tensor, weight: Tensor, rstd: Tensor, dy: Tensor, options: { dWeight?: Tensor; dx?: Tensor } = {}): Tensor {
  const dx = options.dx ?? Tensor.empty(x.shape, { dtype: x.dtype, device: x.device });
  runOp('rms_norm_backward', { dx, dweight: options.dWeight, x, weight, rstd, dy });
  return dx;
}

/**
 * Rotary embedding (rotate-half) of x (B, T, H, D) at positions (B, T) i32 with base `theta`;
 * `inverse` rotates back (the backward). In place when `out` is x.
 */
export function rope(x: Tensor, positions: Tensor, theta: number, options: { inverse?: boolean; out?: Tensor } = {}): Tensor {
  const out = options.out ?? Tensor.empty(x.shape, { dtype: x.dtype, device: x.device });
  runOp('rope', { out, x, positions, theta, inverse: options.inverse });
  return out;
}

/** silu(gate)·up, elementwise. */
export function swiglu(gate: Tensor, up: Tensor, options: { out?: Tensor } = {}): Tensor {
  const out = options.out ?? Tensor.empty(gate.shape, { dtype: gate.dtype, device: gate.device });
  runOp('swiglu', { out, gate, up });
  return out;
}

/** The gradients of {@link swiglu} for the output gradient dy (written into `dGate` / `dUp` when given). */
export function swigluBackward(gate: Tensor, up: Tensor, dy: Tensor, options: { dGate?: Tensor; dUp?: Tensor } = {}): { dGate: Tensor; dUp: Tensor } {
  const dGate = options.dGate ?? Tensor.empty(gate.shape, { dtype: gate.dtype, device: gate.device });
  const dUp = options.dUp ?? Tensor.empty(up.shape, { dtype: up.dtype, device: up.device });
  runOp('swiglu_backward', { dgate: dGate, dup: dUp, dy, gate, up });
  return { dGate, dUp };
}

/** Rows `ids` (R) i32 of table (V, H): (R, H). An id outside [0, V) is a ShapeError naming it. */
export function embedding(table: Tensor, ids: Tensor, options: { out?: Tensor } = {}): Tensor {
  const out = options.out ?? Tensor.empty([ids.shape[0], table.shape[1]], { dtype: table.dtype, device: table.device });
  runOp('embedding', { out, table, ids });
  return out;
}

/** Adds dy (R, H) into rows `ids` of dTable (V, H) f32; rows with id −1 are skipped. */
export function embeddingBackward(dy: Tensor, ids: Tensor, dTable: Tensor): void {
  runOp('embedding_backward', { dtable: dTable, dy, ids });
}

/** AdamW's hyperparameters for one step (torch.optim.AdamW's meaning). */
export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for the bias corrections. */
  step: number;
  /** Multiplies the gradient first (1 / tokens of the step, times the clipping factor). Default 1. */
  gradScale?: number;
}

/** A parameter's optimizer state: moments (f32), and an f32 master copy when the parameter is not f32. */
export interface AdamwState {
  m: Tensor;
  v: Tensor;
  master?: Tensor;
}

/** One fused AdamW step on `param` (in place) from `grad`. */
export function adamw(param: Tensor, grad: Tensor, state: AdamwState, hyper: AdamwHyper): void {
  runOp('adamw', {
    param, master: state.master, m: state.m, v: state.v, grad,
    lr: hyper.lr, beta1: hyper.beta1, beta2: hyper.beta2, eps: hyper.eps, weightDecay: hyper.weightDecay, step: hyper.step, gradScale: hyper.gradScale,
  });
}

/** Adds Σ x² to `out` (1) f32. */
export function sumSquares(x: Tensor, out: Tensor): void {
  runOp('sum_squares', { out, x });
}

/** √(Σ over every gradient of Σ g²): the global norm clipping compares with its limit. */
export function globalGradNorm(grads: readonly Tensor[]): number {
  if (grads.length === 0) return 0;
  using total = Tensor.zeros([1], { device: grads[0].device });
  for (const g of grads) sumSquares(g, total);
  return Math.sqrt(total.toFloat32()[0]);
}

/** The factor that brings a gradient of norm `norm` down to `maxNorm` (1 when it is within it; torch's clip_grad_norm_). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/** Writes row i of x (M, W) to row index[i] of out (T, W), leaving the other rows as they were. */
export function putRows(out: Tensor, x: Tensor, index: Tensor): void {
  runOp('put_rows', { out, x, index });
}

/** Sets every element of `out` to `value` (0 by default). */
export function fill(out: Tensor, value = 0): void {
  runOp('fill', { out, value });
}

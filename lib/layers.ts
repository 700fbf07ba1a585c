/**
 * Typed functions for the layer ops the compressor and projector are built from: GELU (erf
 * form), LayerNorm, dropout, and the fused linear + bias + GELU. Activations are computed in f32;
 * outputs take the input's dtype unless an `out` is given.
 */
import { runOp } from './ops.js';
import { Tensor } from './tensor.js';

function like(x: Tensor, shape: readonly number[] = x.shape): Tensor {
  return Tensor.empty(shape, { dtype: x.dtype, device: x.device });
}

/** gelu(x) = 0.5·x·(1 + erf(x/√2)), elementwise. */
export function gelu(x: Tensor, options: { out?: Tensor } = {}): Tensor {
  const out = options.out ?? like(x);
  runOp('gelu', { out, x });
  return out;
}

/** dy·gelu'(x), elementwise. `out` may be dy. */
export function geluBackward(x: Tensor, dy: Tensor, options: { out?: Tensor } = {}): Tensor {
  const dx = options.out ?? like(x);
  runOp('gelu_backward', { dx, x, dy });
  return dx;
}

/** What {@link layerNorm} keeps for its backward: per-row mean and 1/√(var + eps), (rows) f32. */
export interface LayerNormSaved {
  mean: Tensor;
  rstd: Tensor;
}

/** LayerNorm over the last dimension of x (..., C) with weight and bias (C); eps default 1e-5. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, options: { eps?: number; out?: Tensor } = {}): { out: Tensor; saved: LayerNormSaved } {
  const rows = x.numel / x.shape[x.shape.length - 1];
  const out = options.out ?? like(x);
  const saved = { mean: Tensor.empty([rows], { device: x.device }), rstd: Tensor.empty([rows], { device: x.device }) };
  runOp('layer_norm', { out, mean: saved.mean, rstd: saved.rstd, x, weight, bias, eps: options.eps });
  return { out, saved };
}

/** Gradient of {@link layerNorm} to x (returned); dWeight and dBias (C) accumulate (+=). */
export function layerNormBackward(x: Tensor, weight: Tensor, saved: LayerNormSaved, dy: Tensor, grads: { dWeight: Tensor; dBias: Tensor }): Tensor {
  const dx = like(x);
  runOp('layer_norm_backward', { dx, dweight: grads.dWeight, dbias: grads.dBias, x, weight, mean: saved.mean, rstd: saved.rstd, dy });
  return dx;
}

/**
 * Inverted dropout with probability p and a counter-based mask of (seed, element index): the
 * same mask on every backend. Applying it to the output gradient with the same seed is its
 * backward. `out` may be x.
 */
export function dropout(x: Tensor, p: number, seed: number, options: { out?: Tensor } = {}): Tensor {
  const out = options.out ?? like(x);
  runOp('dropout', { out, x, p, seed });
  return out;
}

/**
 * gelu(x·weightᵀ + bias) for x (..., in), weight (out, in), bias (out), with the bias and GELU in
 * the GEMM epilogue on CUDA. Returns the activation and the pre-activation (for the backward).
 */
export function linearGelu(x: Tensor, weight: Tensor, bias: Tensor): { out: Tensor; pre: Tensor } {
  const shape = [...x.shape.slice(0, -1), weight.shape[0]];
  const out = Tensor.empty(shape, { device: x.device });
  const pre = Tensor.empty(shape, { device: x.device });
  runOp('matmul_bias_gelu', { out, pre, a: x, weight, bias });
  return { out, pre };
}

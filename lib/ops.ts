/**
 * The op table from TypeScript: every op of the native core by name ({@link runOp},
 * {@link runOpAsync}, {@link listOps}), and typed functions for the common ones.
 *
 * Ops run on the device of their tensors; all tensors of one call must share it. Outputs are
 * written in place into tensors the caller provides (`out`), or allocated when a typed function
 * allocates them for you. Floating dtypes (f32, bf16, f16) mix freely; arithmetic is f32.
 */
import { native, withCallerStack } from './native.js';
import type { Device, NativeOpArgs, OpSchema } from './native.js';
import { Tensor } from './tensor.js';

export type { OpSchema };

/** Arguments of an op by name: tensors and attributes (see {@link listOps} for each op's names). */
export type OpArgs = Record<string, Tensor | number | boolean | undefined>;

function toNative(args: OpArgs): NativeOpArgs {
  const out: NativeOpArgs = {};
  for (const [key, value] of Object.entries(args)) {
    if (value !== undefined) out[key] = value instanceof Tensor ? value.native : value;
  }
  return out;
}

/** Runs an op synchronously on the calling thread (on a GPU, it is queued on the device). */
export function runOp(op: string, args: OpArgs): void {
  native.runOp(op, toNative(args));
}

/**
 * Runs an op on a worker thread, off the event loop; the promise settles when the result is
 * there (on a GPU, once the device has finished). The tensors must stay undisposed until then.
 */
export function runOpAsync(op: string, args: OpArgs): Promise<void> {
  return withCallerStack(native.runOpAsync(op, toNative(args)));
}

/** Every op of the table with its arguments and the backends that implement it. */
export function listOps(): OpSchema[] {
  return native.ops();
}

/** Whether the backend of `device` implements `op`. */
export function supports(op: string, device: Device): boolean {
  return native.supports(op, device);
}

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use aᵀ: a is (K, M). Default false. */
  transA?: boolean;
  /** Use bᵀ: b is (N, K), as a linear layer's weight. Default false. */
  transB?: boolean;
  /** (N), added to every row. */
  bias?: Tensor;
  /** Scales the product. Default 1. */
  alpha?: number;
  /** Writes into this tensor instead of a new one. */
  out?: Tensor;
  /** With `out`: out = alpha·a·b + beta·out (+ bias). Default 0 (out is not read). */
  beta?: number;
}

function matmulArgs(a: Tensor, b: Tensor, options: MatmulOptions): OpArgs & { out: Tensor } {
  const { transA = false, transB = false } = options;
  const m = transA ? a.shape[1] : a.shape.slice(0, -1);
  const n = transB ? b.shape[0] : b.shape[1];
  const outShape = typeof m === 'number' ? [m, n] : [...m, n];
  const out = options.out ?? Tensor.empty(outShape, { dtype: a.dtype, device: a.device });
  return { out, a, b, bias: options.bias, transA, transB, alpha: options.alpha, beta: options.beta };
}

/**
 * out = alpha·op(a)·op(b) + beta·out + bias. a: (..., K) or (K, M) with `transA`; b: (K, N) or
 * (N, K) with `transB`. The result (..., N) has a's dtype unless `out` says otherwise.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const args = matmulArgs(a, b, options);
  runOp('matmul', args);
  return args.out;
}

/** {@link matmul} on a worker thread. */
export async function matmulAsync(a: Tensor, b: Tensor, options: MatmulOptions = {}): Promise<Tensor> {
  const args = matmulArgs(a, b, options);
  await runOpAsync('matmul', args);
  return args.out;
}

/** A linear layer: x (..., in) · weightᵀ (out, in) + bias (out) → (..., out). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return matmul(x, weight, { transB: true, bias });
}

/** Gradients of {@link linear}. dWeight and dBias accumulate into `accumulateInto` when given. */
export interface LinearGradients {
  /** (..., in) */
  dx: Tensor;
  /** (out, in) */
  dWeight: Tensor;
  /** (out), when the layer has a bias */
  dBias?: Tensor;
}

/**
 * Backward of {@link linear} for x (..., in), weight (out, in) and the output gradient
 * dy (..., out): dx = dy·W, dW = dyᵀ·x, db = Σ rows of dy. With `accumulateInto`, the weight
 * and bias gradients are added to those tensors (gradient accumulation) instead of new ones.
 */
export function linearBackward(
  x: Tensor,
  weight: Tensor,
  dy: Tensor,
  options: { bias?: boolean; accumulateInto?: { dWeight: Tensor; dBias?: Tensor } } = {},
): LinearGradients {
  const inFeatures = weight.shape[1];
  const outFeatures = weight.shape[0];
  const rows = x.numel / inFeatures;
  const dx = matmul(dy, weight);
  const x2 = x.reshape([rows, inFeatures]);
  const dy2 = dy.reshape([rows, outFeatures]);
  const target = options.accumulateInto;
  const dWeight = matmul(dy2, x2, { transA: true, out: target?.dWeight, beta: target ? 1 : 0 });
  let dBias: Tensor | undefined;
  if (options.bias) {
    dBias = target?.dBias ?? Tensor.empty([outFeatures], { dtype: weight.dtype, device: weight.device });
    runOp('sum_rows', { out: dBias, x: dy2, accumulate: target?.dBias !== undefined });
  }
  x2.dispose();
  dy2.dispose();
  return { dx, dWeight, dBias };
}

/** alpha·a + beta·b, elementwise (a and b of one shape). `out` may be a or b. */
export function add(a: Tensor, b: Tensor, options: { alpha?: number; beta?: number; out?: Tensor } = {}): Tensor {
  const out = options.out ?? Tensor.empty(a.shape, { dtype: a.dtype, device: a.device });
  runOp('add', { out, a, b, alpha: options.alpha, beta: options.beta });
  return out;
}

/** factor·x, elementwise. `out` may be x. */
export function scale(x: Tensor, factor: number, options: { out?: Tensor } = {}): Tensor {
  const out = options.out ?? Tensor.empty(x.shape, { dtype: x.dtype, device: x.device });
  runOp('scale', { out, x, scale: factor });
  return out;
}

/** Softmax over the last dimension. */
export function softmax(x: Tensor, options: { out?: Tensor } = {}): Tensor {
  const out = options.out ?? Tensor.empty(x.shape, { dtype: x.dtype, device: x.device });
  runOp('softmax', { out, x });
  return out;
}

/** Gradient of softmax from its output y and the output gradient dy: y ⊙ (dy − Σ dy·y). */
export function softmaxBackward(y: Tensor, dy: Tensor): Tensor {
  const dx = Tensor.empty(y.shape, { dtype: y.dtype, device: y.device });
  runOp('softmax_backward', { dx, y, dy });
  return dx;
}

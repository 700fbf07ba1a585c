/**
 * Attention for Qwen3-style decoders: causal grouped-query attention over right-padded batches,
 * its backward, and one decode step against a KV cache.
 *
 * Layout (the q/k/v projections' outputs viewed, no transposes):
 * - `q` (B, T, Hq, D), `k` and `v` (B, T, Hkv, D), with Hq a multiple of Hkv: query head h reads
 *   key-value head ⌊h / (Hq / Hkv)⌋ (Qwen3-4B: Hq 32, Hkv 8, D 128).
 * - `seqLens` (B) i32, optional: sequence b holds tokens [0, seqLens[b]) and is padded on the
 *   right after them. Padding rows get zeros (output and gradients) and influence nothing.
 * - `lse` (B, Hq, T) f32: the log-sum-exp of each query row's scaled scores, saved by the forward
 *   for the backward.
 *
 * q, k and v share one floating dtype (f32, bf16 or f16); arithmetic is f32. `scale` defaults to
 * 1/√D. Head dim: any on the CPU, up to 128 on CUDA.
 */
import { runOp, runOpAsync } from './ops.js';
import { Tensor } from './tensor.js';

/** Options shared by {@link attention} and {@link attentionBackward}. */
export interface AttentionOptions {
  /** (B) i32 valid lengths (right padding). Default: every sequence is T tokens long. */
  seqLens?: Tensor;
  /** Each query sees only keys at or before its own position. Default true. */
  causal?: boolean;
  /** Multiplies q·k before the softmax. Default 1/√D. */
  scale?: number;
}

/** What {@link attention} returns. */
export interface AttentionResult {
  /** (B, T, Hq, D), q's dtype unless `out` was given. */
  out: Tensor;
  /** (B, Hq, T) f32: per-row log-sum-exp, for {@link attentionBackward}. */
  lse: Tensor;
}

function forwardArgs(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & { out?: Tensor; lse?: Tensor }) {
  const [batch, tokens, heads] = q.shape;
  const out = options.out ?? Tensor.empty(q.shape, { dtype: q.dtype, device: q.device });
  const lse = options.lse ?? Tensor.empty([batch, heads, tokens], { dtype: 'f32', device: q.device });
  return { out, lse, q, k, v, seqLens: options.seqLens, causal: options.causal, scale: options.scale };
}

/**
 * softmax(scale·q·kᵀ + mask)·v for q (B, T, Hq, D) and k, v (B, T, Hkv, D): the output
 * (B, T, Hq, D) and the log-sum-exp (B, Hq, T) f32. Pass `out` / `lse` to write into your own
 * tensors.
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions & { out?: Tensor; lse?: Tensor } = {},
): AttentionResult {
  const args = forwardArgs(q, k, v, options);
  runOp('attention', args);
  return { out: args.out, lse: args.lse };
}

/** {@link attention} on a worker thread, off the event loop. */
export async function attentionAsync(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions & { out?: Tensor; lse?: Tensor } = {},
): Promise<AttentionResult> {
  const args = forwardArgs(q, k, v, options);
  await runOpAsync('attention', args);
  return { out: args.out, lse: args.lse };
}

/** Gradients from {@link attentionBackward}; each overwritten, never accumulated. */
export interface AttentionGradients {
  /** (B, T, Hq, D) */
  dq: Tensor;
  /** (B, T, Hkv, D): summed over the query heads that share each key-value head. */
  dk: Tensor;
  /** (B, T, Hkv, D) */
  dv: Tensor;
}

/**
 * Backward of {@link attention}: from the forward's inputs, its `out` (B, T, Hq, D) and `lse`
 * (B, Hq, T) and the output gradient `dout` (B, T, Hq, D), the gradients of q, k and v. The
 * probabilities are recomputed from `lse`. `delta` (B, Hq, T) f32 is scratch (rowsum(dout ∘ out));
 * pass it, and `dq` / `dk` / `dv`, to avoid allocations in a training loop.
 */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  lse: Tensor,
  dout: Tensor,
  options: AttentionOptions & { dq?: Tensor; dk?: Tensor; dv?: Tensor; delta?: Tensor } = {},
): AttentionGradients {
  const like = (t: Tensor, given?: Tensor) => given ?? Tensor.empty(t.shape, { dtype: t.dtype, device: t.device });
  const dq = like(q, options.dq);
  const dk = like(k, options.dk);
  const dv = like(v, options.dv);
  const delta = options.delta ?? Tensor.empty(lse.shape, { dtype: 'f32', device: lse.device });
  try {
    runOp('attention_backward', {
      dq, dk, dv, delta, q, k, v, out, lse, dout,
      seqLens: options.seqLens, causal: options.causal, scale: options.scale,
    });
  } finally {
    if (!options.delta) delta.dispose();
  }
  return { dq, dk, dv };
}

/**
 * One generation step: q (B, Hq, D), one new query row per sequence, against the KV caches
 * `kCache`, `vCache` (B, S, Hkv, D), of which the first `cacheLens[b]` rows (i32 (B)) are filled
 * — the new token's own key and value included. Returns (B, Hq, D), equal to row
 * cacheLens[b] − 1 of causal {@link attention} over the whole sequence; zeros where the length
 * is 0.
 */
export function attentionDecode(
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  cacheLens: Tensor,
  options: { scale?: number; out?: Tensor } = {},
): Tensor {
  const out = options.out ?? Tensor.empty(q.shape, { dtype: q.dtype, device: q.device });
  runOp('attention_decode', { out, q, kCache, vCache, cacheLens, scale: options.scale });
  return out;
}

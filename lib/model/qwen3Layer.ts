/**
 * One Qwen3 decoder layer over the op table, forward and backward:
 *
 *   h  = RMSNorm(x)                      q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ
 *   q, k = RoPE(RMSNorm_head(q)), RoPE(RMSNorm_head(k))
 *   x' = x + Attention(q, k, v)·Woᵀ      (causal, grouped-query, right padding)
 *   y  = x' + (SiLU(RMSNorm(x')·Wgᵀ) ⊙ RMSNorm(x')·Wuᵀ)·Wdᵀ
 *
 * Token rows are (N = B·T, hidden); attention views them as (B, T, heads, head_dim) without
 * copies. The backward adds weight gradients (f32) only when asked: stage 1 needs the input
 * gradient alone and runs no weight-gradient GEMM.
 */
import { attention, attentionBackward } from '../attentionOps.js';
import { add, matmul } from '../ops.js';
import { rmsNorm, rmsNormBackward, rope, swiglu, swigluBackward } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import type { Qwen3Config } from './qwen3Config.js';
import { type Allocate, allocateEach } from './activationArena.js';

/** A layer's weights (views of the model's parameters), by their role. */
export interface LayerWeights {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  qNorm: Tensor;
  kNorm: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** The names of layer `i`'s weights in a Hugging Face checkpoint. */
export function layerWeightNames(i: number): Record<keyof LayerWeights, string> {
  const p = `model.layers.${i}`;
  return {
    inputNorm: `${p}.input_layernorm.weight`,
    q: `${p}.self_attn.q_proj.weight`,
    k: `${p}.self_attn.k_proj.weight`,
    v: `${p}.self_attn.v_proj.weight`,
    o: `${p}.self_attn.o_proj.weight`,
    qNorm: `${p}.self_attn.q_norm.weight`,
    kNorm: `${p}.self_attn.k_norm.weight`,
    postNorm: `${p}.post_attention_layernorm.weight`,
    gate: `${p}.mlp.gate_proj.weight`,
    up: `${p}.mlp.up_proj.weight`,
    down: `${p}.mlp.down_proj.weight`,
  };
}

/** What the whole batch shares in every layer. */
export interface LayerContext {
  config: Qwen3Config;
  batch: number;
  tokens: number;
  /** (B, T) i32. */
  positions: Tensor;
  /** (B) i32: valid tokens per sequence. */
  seqLens: Tensor;
}

/** A layer's activations that its backward reads. */
export interface LayerActivations {
  x: Tensor;
  h1: Tensor;
  rstd1: Tensor;
  q: Tensor;
  rstdQ: Tensor;
  k: Tensor;
  rstdK: Tensor;
  qRot: Tensor;
  kRot: Tensor;
  v: Tensor;
  attn: Tensor;
  lse: Tensor;
  x2: Tensor;
  h2: Tensor;
  rstd2: Tensor;
  gate: Tensor;
  up: Tensor;
  act: Tensor;
}

function headView(t: Tensor, ctx: LayerContext, heads: number): Tensor {
  return t.reshape([ctx.batch, ctx.tokens, heads, ctx.config.head_dim]);
}

function rows(t: Tensor, width: number): Tensor {
  return t.reshape([t.numel / width, width]);
}

/**
 * The layer on x (N, hidden): returns y (N, hidden) and the activations (x is kept, not copied).
 * Activations come from `allocate` (an arena's views in training), y from `allocateOutput`
 * (default: `allocate`).
 */
export function layerForward(
  w: LayerWeights,
  x: Tensor,
  ctx: LayerContext,
  allocate: Allocate = allocateEach(x.device),
  allocateOutput: Allocate = allocate,
): { y: Tensor; saved: LayerActivations } {
  const { config } = ctx;
  const [hq, hkv, dh] = [config.num_attention_heads, config.num_key_value_heads, config.head_dim];
  const eps = config.rms_norm_eps;
  const n = x.shape[0];
  const rowsOf = (width: number) => allocate([n, width], x.dtype);
  const stats = (count: number) => allocate([count], 'f32');
  const { out: h1, rstd: rstd1 } = rmsNorm(x, w.inputNorm, { eps, out: rowsOf(config.hidden_size), rstd: stats(n) });
  const q = matmul(h1, w.q, { transB: true, out: rowsOf(hq * dh) });
  const k = matmul(h1, w.k, { transB: true, out: rowsOf(hkv * dh) });
  const v = matmul(h1, w.v, { transB: true, out: rowsOf(hkv * dh) });
  const qRot = allocate([ctx.batch, ctx.tokens, hq, dh], x.dtype);
  const kRot = allocate([ctx.batch, ctx.tokens, hkv, dh], x.dtype);
  const normRope = (t: Tensor, weight: Tensor, heads: number, out: Tensor): Tensor => {
    using headRows = rows(t, dh);
    using outRows = rows(out, dh);
    const { rstd } = rmsNorm(headRows, weight, { eps, out: outRows, rstd: stats(n * heads) });
    rope(out, ctx.positions, config.rope_theta, { out });
    return rstd;
  };
  const rstdQ = normRope(q, w.qNorm, hq, qRot);
  const rstdK = normRope(k, w.kNorm, hkv, kRot);
  using vHeads = headView(v, ctx, hkv);
  const { out: attnHeads, lse } = attention(qRot, kRot, vHeads, {
    seqLens: ctx.seqLens,
    out: allocate(qRot.shape, x.dtype),
    lse: allocate([ctx.batch, hq, ctx.tokens], 'f32'),
  });
  const attn = rows(attnHeads, hq * dh);
  attnHeads.dispose();
  const x2 = matmul(attn, w.o, { transB: true, out: rowsOf(config.hidden_size) });
  add(x, x2, { out: x2 });
  const { out: h2, rstd: rstd2 } = rmsNorm(x2, w.postNorm, { eps, out: rowsOf(config.hidden_size), rstd: stats(n) });
  const gate = matmul(h2, w.gate, { transB: true, out: rowsOf(config.intermediate_size) });
  const up = matmul(h2, w.up, { transB: true, out: rowsOf(config.intermediate_size) });
  const act = swiglu(gate, up, { out: rowsOf(config.intermediate_size) });
  const y = matmul(act, w.down, { transB: true, out: allocateOutput([n, config.hidden_size], x.dtype) });
  add(x2, y, { out: y });
  return { y, saved: { x, h1, rstd1, q, rstdQ, k, rstdK, qRot, kRot, v, attn, lse, x2, h2, rstd2, gate, up, act } };
}

/**
 * Elements one layer's forward takes from its allocators for N = B·T tokens: in the model's
 * dtype (activations and y) and in f32 (RMSNorm statistics and the attention's log-sum-exp).
 */
export function layerActivationElements(config: Qwen3Config, tokens: number): { values: number; stats: number } {
  const [hidden, mlp] = [config.hidden_size, config.intermediate_size];
  const [qWidth, kvWidth] = [config.num_attention_heads * config.head_dim, config.num_key_value_heads * config.head_dim];
  // h1, x2, h2, y; q, qRot, attn; k, kRot, v; gate, up, act
  const values = tokens * (4 * hidden + 3 * qWidth + 3 * kvWidth + 3 * mlp);
  // rstd1, rstd2; per-head rstd of q and k; lse
  const stats = tokens * (2 + 2 * config.num_attention_heads + config.num_key_value_heads);
  return { values, stats };
}

/** Releases a layer's activations except its input x (the caller's). */
export function releaseActivations(saved: LayerActivations): void {
  for (const [name, t] of Object.entries(saved)) if (name !== 'x') t.dispose();
}

/** Gradients of one layer's weights (f32), by role; absent in stage 1. */
export type LayerGradients = LayerWeights;

/**
 * Backward of {@link layerForward} for dy (N, hidden): returns dx (N, hidden), written into
 * `dx` when given. Weight gradients are added into `grads` when given. Temporaries come from
 * `allocate` and are all disposed before returning. Releases the activations (not x).
 */
export function layerBackward(
  w: LayerWeights,
  saved: LayerActivations,
  dy: Tensor,
  ctx: LayerContext,
  grads?: LayerGradients,
  options: { allocate?: Allocate; dx?: Tensor } = {},
): Tensor {
  const { config } = ctx;
  const [hq, hkv, dh] = [config.num_attention_heads, config.num_key_value_heads, config.head_dim];
  const allocate = options.allocate ?? allocateEach(dy.device);
  const weightGrad = (input: Tensor, dOut: Tensor, target: Tensor | undefined) => {
    if (target) matmul(dOut, input, { transA: true, out: target, beta: 1 });
  };
  const owned: Tensor[] = [];
  const own = <T extends Tensor>(t: T): T => (owned.push(t), t);
  const like = (t: Tensor): Tensor => own(allocate(t.shape, t.dtype));
  try {
    // MLP: y = x2 + down(act)
    const dAct = matmul(dy, w.down, { out: like(saved.act) });
    weightGrad(saved.act, dy, grads?.down);
    const { dGate, dUp } = swigluBackward(saved.gate, saved.up, dAct, { dGate: like(saved.gate), dUp: like(saved.up) });
    const dH2 = matmul(dGate, w.gate, { out: like(saved.h2) });
    matmul(dUp, w.up, { out: dH2, beta: 1 });
    weightGrad(saved.h2, dGate, grads?.gate);
    weightGrad(saved.h2, dUp, grads?.up);
    const dX2 = rmsNormBackward(saved.x2, w.postNorm, saved.rstd2, dH2, { dWeight: grads?.postNorm, dx: like(saved.x2) });
    add(dX2, dy, { out: dX2 });
    // Attention: x2 = x + o(attn)
    const dAttn = matmul(dX2, w.o, { out: like(saved.attn) });
    weightGrad(saved.attn, dX2, grads?.o);
    using attnHeads = headView(saved.attn, ctx, hq);
    using dAttnHeads = headView(dAttn, ctx, hq);
    using vHeads = headView(saved.v, ctx, hkv);
    const { dq, dk, dv } = attentionBackward(saved.qRot, saved.kRot, vHeads, attnHeads, saved.lse, dAttnHeads, {
      seqLens: ctx.seqLens,
      dq: like(saved.qRot),
      dk: like(saved.kRot),
      dv: like(vHeads),
      delta: like(saved.lse),
    });
    const unNormRope = (dRot: Tensor, pre: Tensor, rstd: Tensor, weight: Tensor, dWeight: Tensor | undefined): Tensor => {
      rope(dRot, ctx.positions, config.rope_theta, { inverse: true, out: dRot });
      using dRows = rows(dRot, dh);
      using preRows = rows(pre, dh);
      const dPre = rmsNormBackward(preRows, weight, rstd, dRows, { dWeight, dx: own(allocate(preRows.shape, pre.dtype)) });
      return rows(dPre, pre.shape[1]);
    };
    using dQ = unNormRope(dq, saved.q, saved.rstdQ, w.qNorm, grads?.qNorm);
    using dK = unNormRope(dk, saved.k, saved.rstdK, w.kNorm, grads?.kNorm);
    using dV = rows(dv, hkv * dh);
    const dH1 = matmul(dQ, w.q, { out: like(saved.h1) });
    matmul(dK, w.k, { out: dH1, beta: 1 });
    matmul(dV, w.v, { out: dH1, beta: 1 });
    weightGrad(saved.h1, dQ, grads?.q);
    weightGrad(saved.h1, dK, grads?.k);
    weightGrad(saved.h1, dV, grads?.v);
    const dx = rmsNormBackward(saved.x, w.inputNorm, saved.rstd1, dH1, { dWeight: grads?.inputNorm, dx: options.dx });
    add(dx, dX2, { out: dx });
    return dx;
  } finally {
    for (const t of owned) t.dispose();
    releaseActivations(saved);
  }
}

/**
 * Elements one layer's backward takes from its allocator for N = B·T tokens (its temporaries,
 * not dx): in the model's dtype and in f32 (the attention backward's row sums).
 */
export function layerBackwardElements(config: Qwen3Config, tokens: number): { values: number; stats: number } {
  const [hidden, mlp] = [config.hidden_size, config.intermediate_size];
  const [qWidth, kvWidth] = [config.num_attention_heads * config.head_dim, config.num_key_value_heads * config.head_dim];
  // dAct, dGate, dUp; dH2, dX2, dH1; dAttn, dq, dq before norm and RoPE; dk, dv, dk before them
  const values = tokens * (3 * mlp + 3 * hidden + 3 * qWidth + 3 * kvWidth);
  return { values, stats: tokens * config.num_attention_heads };
}

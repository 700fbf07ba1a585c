// Arguments of the attention ops: causal grouped-query attention over padded batches, its
// backward, and one decode step against a KV cache.
//
// Layout (what Qwen3 training needs, with no transposes after the q/k/v projections):
//   q        (B, T, Hq, D)     the (B·T, Hq·D) output of the q projection, viewed
//   k, v     (B, T, Hkv, D)    Hq % Hkv == 0; query head h reads key-value head h / (Hq / Hkv)
//   out      (B, T, Hq, D)
//   lse      (B, Hq, T) f32    log Σ_j exp(scale·q_i·k_j) of each query row over its keys
//   seq_lens (B) i32           optional: sequence b holds tokens [0, seq_lens[b]) and is padded
//                              on the right after them (values are clamped to [0, T])
// Query row i of sequence b attends to keys j < seq_lens[b] (and j <= i when causal). Padding
// rows (i >= seq_lens[b]) get out = 0, lse = 0 and zero gradients; they never influence others.
// q, k, v may be f32, bf16 or f16 (of one dtype); arithmetic is f32. scale 0 means 1/√D.
#pragma once

#include "wsi/tensor.h"

namespace wsi {

// out, lse = attention(q, k, v); see the layout above.
struct AttentionArgs {
  Tensor out, lse, q, k, v, seq_lens;
  bool causal = true;
  float scale = 0.0f;  // 0: 1/sqrt(D)

  template <class V>
  void visit(V& v_) {
    v_.output("out", out);
    v_.output("lse", lse);
    v_.input("q", q);
    v_.input("k", k);
    v_.input("v", v);
    v_.optional("seqLens", seq_lens);
    v_.flag("causal", causal);
    v_.number("scale", scale);
  }
  void validate() const;
  float softmax_scale() const;  // scale, or 1/sqrt(D) when it is 0
};

// dq, dk, dv from dout and the forward's out and lse (recomputing the probabilities):
//   P = exp(scale·Q·Kᵀ − lse), dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP − delta), delta = rowsum(dO ∘ O),
//   dQ = scale·dS·K, dK = scale·dSᵀ·Q, summed over the query heads that share a key-value head.
// All three gradients are overwritten (=). delta (B, Hq, T) f32 is scratch the op writes.
struct AttentionBackwardArgs {
  Tensor dq, dk, dv, delta, q, k, v, out, lse, dout, seq_lens;
  bool causal = true;
  float scale = 0.0f;

  template <class V>
  void visit(V& v_) {
    v_.output("dq", dq);
    v_.output("dk", dk);
    v_.output("dv", dv);
    v_.output("delta", delta);
    v_.input("q", q);
    v_.input("k", k);
    v_.input("v", v);
    v_.input("out", out);
    v_.input("lse", lse);
    v_.input("dout", dout);
    v_.optional("seqLens", seq_lens);
    v_.flag("causal", causal);
    v_.number("scale", scale);
  }
  void validate() const;
  float softmax_scale() const;
};

// One generation step: a new query row per sequence against its KV cache.
//   out (B, Hq, D) = softmax(scale·q·K[b, :len]ᵀ)·V[b, :len]
//   q (B, Hq, D); k_cache, v_cache (B, S, Hkv, D); cache_lens (B) i32, clamped to [0, S]: the
//   cache already holds the new token's key and value at position cache_lens[b] − 1, so the
//   result equals row cache_lens[b] − 1 of causal attention over the whole sequence.
// A sequence with cache_lens[b] = 0 gets out = 0.
struct AttentionDecodeArgs {
  Tensor out, q, k_cache, v_cache, cache_lens;
  float scale = 0.0f;

  template <class V>
  void visit(V& v_) {
    v_.output("out", out);
    v_.input("q", q);
    v_.input("kCache", k_cache);
    v_.input("vCache", v_cache);
    v_.input("cacheLens", cache_lens);
    v_.number("scale", scale);
  }
  void validate() const;
  float softmax_scale() const;
};

}  // namespace wsi

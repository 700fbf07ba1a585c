// Arguments of the Qwen3 layer ops: RMSNorm, rotary embedding, SwiGLU, the token embedding, and
// the optimizer's fused AdamW step and sum of squares (for the global gradient norm).
#pragma once

#include "wsi/tensor.h"

namespace wsi {

// RMSNorm over the last dimension D of x (rows, D), in f32 (Qwen3's, and its per-head q/k norm
// with x viewed as (tokens·heads, head_dim)):
//   rstd = 1/√(mean(x²) + eps), out = x·rstd·weight; rstd (rows) f32 is written for the backward.
// out may be x.
struct RmsNormArgs {
  Tensor out, rstd, x, weight;
  float eps = 1e-6f;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.output("rstd", rstd);
    v.input("x", x);
    v.input("weight", weight);
    v.number("eps", eps);
  }
  void validate() const;
};

// Backward of RMSNorm: dx (rows, D) overwritten (may be dy); dweight (D) f32 accumulated (+=),
// optional (a frozen norm's weight needs none):
//   xhat = x·rstd, g = dy·weight; dx = rstd·(g − xhat·mean(g·xhat)); dweight += Σ_rows dy·xhat
struct RmsNormBackwardArgs {
  Tensor dx, dweight, x, weight, rstd, dy;

  template <class V>
  void visit(V& v) {
    v.output("dx", dx);
    v.optional("dweight", dweight);
    v.input("x", x);
    v.input("weight", weight);
    v.input("rstd", rstd);
    v.input("dy", dy);
  }
  void validate() const;
};

// Rotary position embedding, rotate-half form (Hugging Face's Qwen3), on x (B, T, H, D), D even:
//   inv_freq[i] = θ^(−2i/D) (i < D/2), angle = positions[b, t]·inv_freq[i] (f32, as transformers)
//   out[.., i] = x[i]·cos − x[i + D/2]·sin, out[.., i + D/2] = x[i + D/2]·cos + x[i]·sin
// positions (B, T) i32 need not start at 0 (generation with a cache). `inverse` rotates by −angle:
// the backward (the rotation's transpose). out may be x.
struct RopeArgs {
  Tensor out, x, positions;
  float theta = 1000000.0f;
  bool inverse = false;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.input("positions", positions);
    v.number("theta", theta);
    v.flag("inverse", inverse);
  }
  void validate() const;
};

// SwiGLU of Qwen3's MLP: out = silu(gate)·up, silu(g) = g·σ(g), elementwise over (rows, F).
struct SwigluArgs {
  Tensor out, gate, up;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("gate", gate);
    v.input("up", up);
  }
  void validate() const;
};

// Backward of SwiGLU (overwrite): dgate = dy·up·σ(g)·(1 + g·(1 − σ(g))), dup = dy·silu(g).
struct SwigluBackwardArgs {
  Tensor dgate, dup, dy, gate, up;

  template <class V>
  void visit(V& v) {
    v.output("dgate", dgate);
    v.output("dup", dup);
    v.input("dy", dy);
    v.input("gate", gate);
    v.input("up", up);
  }
  void validate() const;
};

// Token embedding: out[r, :] = table[ids[r], :] for table (V, H), ids (R) i32, out (R, H). An id
// outside [0, V) is an error naming its position and value.
struct EmbeddingArgs {
  Tensor out, table, ids;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("table", table);
    v.input("ids", ids);
  }
  void validate() const;
};

// Backward of the embedding: dtable[ids[r], :] += dy[r, :] (scatter-add into (V, H) f32;
// repeated ids add up). Rows with id −1 are skipped (positions whose embedding was replaced).
struct EmbeddingBackwardArgs {
  Tensor dtable, dy, ids;

  template <class V>
  void visit(V& v) {
    v.output("dtable", dtable);
    v.input("dy", dy);
    v.input("ids", ids);
  }
  void validate() const;
};

// One fused AdamW step (torch.optim.AdamW), in place, element by element in f32:
//   g = grad_scale·grad; m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²
//   p ← p − lr·weight_decay·p − lr·(m / (1 − β1^step)) / (√(v / (1 − β2^step)) + eps)
// p is `master` (f32) when given, then param = round(master) to param's dtype; else param (f32).
// m, v, master f32 and grad any floating dtype, all of param's shape. step ≥ 1.
struct AdamwArgs {
  Tensor param, master, m, v, grad;
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f, grad_scale = 1.0f;
  int64_t step = 1;

  template <class V>
  void visit(V& v_) {
    v_.output("param", param);
    v_.optional("master", master);
    v_.output("m", m);
    v_.output("v", v);
    v_.input("grad", grad);
    v_.number("lr", lr);
    v_.number("beta1", beta1);
    v_.number("beta2", beta2);
    v_.number("eps", eps);
    v_.number("weightDecay", weight_decay);
    v_.number("gradScale", grad_scale);
    v_.integer("step", step);
  }
  void validate() const;
};

// out (1) f32 += Σ x² over every element of x (any floating dtype and shape), summed in f64 on
// the CPU and f32 per block on CUDA: the square of a gradient's norm.
struct SumSquaresArgs {
  Tensor out, x;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
  }
  void validate() const;
};

// out[index[i], :] = x[i, :] for rows out (T, W), x (M, W), index (M) i32 in [0, T); every other
// row of out is left as it was (splicing image embeddings into token embeddings, appending keys
// and values to a cache). Indices must be distinct.
struct PutRowsArgs {
  Tensor out, x, index;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.input("index", index);
  }
  void validate() const;
};

// Every element of out = value (zeroing gradients and accumulators, whatever they held: NaN too).
struct FillArgs {
  Tensor out;
  float value = 0.0f;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.number("value", value);
  }
  void validate() const;
};

}  // namespace wsi

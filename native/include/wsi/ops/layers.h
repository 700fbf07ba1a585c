// Arguments of the layer ops: GELU (erf form), LayerNorm, dropout, the fused linear + bias + GELU
// of the projector, swapping the two leading axes, and gathering / scattering rows.
#pragma once

#include "wsi/tensor.h"

namespace wsi {

// out = gelu(x) = x · Φ(x) = 0.5·x·(1 + erf(x/√2)), elementwise; out may be x.
struct GeluArgs {
  Tensor out, x;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
  }
  void validate() const;
};

// dx = dy · gelu'(x) = dy · (Φ(x) + x·φ(x)), elementwise (overwrite); dx may be dy.
struct GeluBackwardArgs {
  Tensor dx, x, dy;

  template <class V>
  void visit(V& v) {
    v.output("dx", dx);
    v.input("x", x);
    v.input("dy", dy);
  }
  void validate() const;
};

// LayerNorm over the last dimension C of x (rows, C):
//   out = (x − mean) · rstd · weight + bias, rstd = 1/√(var + eps) (biased variance), in f32.
// mean and rstd (rows) f32 are written for the backward.
struct LayerNormArgs {
  Tensor out, mean, rstd, x, weight, bias;
  float eps = 1e-5f;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.output("mean", mean);
    v.output("rstd", rstd);
    v.input("x", x);
    v.input("weight", weight);
    v.input("bias", bias);
    v.number("eps", eps);
  }
  void validate() const;
};

// Backward of LayerNorm: dx (rows, C) overwritten; dweight, dbias (C) accumulated (+=).
struct LayerNormBackwardArgs {
  Tensor dx, dweight, dbias, x, weight, mean, rstd, dy;

  template <class V>
  void visit(V& v) {
    v.output("dx", dx);
    v.output("dweight", dweight);
    v.output("dbias", dbias);
    v.input("x", x);
    v.input("weight", weight);
    v.input("mean", mean);
    v.input("rstd", rstd);
    v.input("dy", dy);
  }
  void validate() const;
};

// Inverted dropout: out[i] = keep(seed, i) ? x[i] / (1 − p) : 0, where keep(seed, i) is
// counter_uniform(seed, i) > p (wsi/counter_rng.h). The mask is a function of (seed, i) only, so
// the backward is this same op applied to dy with the same seed and p. out may be x.
struct DropoutArgs {
  Tensor out, x;
  float p = 0.0f;
  int64_t seed = 0;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.number("p", p);
    v.integer("seed", seed);
  }
  void validate() const;
};

// out (M, N) = gelu(a (M, K) · weightᵀ (N, K) + bias (N)): a linear layer with the bias and GELU
// in the GEMM's epilogue. pre (M, N), when given, receives a·weightᵀ + bias (for the backward).
struct MatmulBiasGeluArgs {
  Tensor out, pre, a, weight, bias;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.optional("pre", pre);
    v.input("a", a);
    v.input("weight", weight);
    v.input("bias", bias);
  }
  void validate() const;
  int64_t m() const;
};

// out (B, A, D)[b, a, :] = x (A, B, D)[a, b, :]: swaps the two leading axes (its own inverse, so
// it is its own backward).
struct SwapAxes01Args {
  Tensor out, x;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
  }
  void validate() const;
};

// out (M, H)[i, :] = x (T, H)[index[i], :], index (M) i32 in [0, T).
struct GatherRowsArgs {
  Tensor out, x, index;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.input("index", index);
  }
  void validate() const;
};

// out (T, H): row index[i] = x (M, H)[i, :], every other row 0 (the whole of out is written).
// index (M) i32 must hold distinct rows in [0, T).
struct ScatterRowsArgs {
  Tensor out, x, index;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.input("index", index);
  }
  void validate() const;
};

}  // namespace wsi

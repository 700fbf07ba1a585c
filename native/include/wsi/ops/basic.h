// Arguments of the basic ops: matmul (linear layers), elementwise add and scale, softmax.
//
// Every op's arguments are a struct with named tensors and attributes, and a visit() that lists
// them for the binding (JS object <-> struct) and the op listing. validate() checks shapes and
// dtypes once for all backends. Outputs are written (=) unless an attribute says they accumulate.
#pragma once

#include "wsi/tensor.h"

namespace wsi {

// out = alpha * op(a) @ op(b) + beta * out + bias
//   a: (M, K), or (K, M) with trans_a; leading dims of a non-transposed a fold into M
//   b: (K, N), or (N, K) with trans_b (a linear layer's weight is (out, in): trans_b)
//   bias: (N), optional; out: (..., N) matching a's leading dims
// Floating dtypes (f32, bf16, f16) in any mix; accumulation is f32.
struct MatmulArgs {
  Tensor out, a, b, bias;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 0.0f;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("a", a);
    v.input("b", b);
    v.optional("bias", bias);
    v.flag("transA", trans_a);
    v.flag("transB", trans_b);
    v.number("alpha", alpha);
    v.number("beta", beta);
  }
  void validate() const;
  // The GEMM sizes once validated.
  int64_t m() const;
  int64_t n() const;
  int64_t k() const;
};

// out = alpha * a + beta * b, elementwise, all of one shape; out may be a or b (in place).
struct AddArgs {
  Tensor out, a, b;
  float alpha = 1.0f, beta = 1.0f;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("a", a);
    v.input("b", b);
    v.number("alpha", alpha);
    v.number("beta", beta);
  }
  void validate() const;
};

// out = scale * x, elementwise; out may be x.
struct ScaleArgs {
  Tensor out, x;
  float scale = 1.0f;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.number("scale", scale);
  }
  void validate() const;
};

// out[..., :] = softmax(x[..., :]) over the last dimension, computed in f32.
struct SoftmaxArgs {
  Tensor out, x;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
  }
  void validate() const;
};

// dx = y * (dy - sum(dy * y)) row by row: the gradient of softmax from its output y.
struct SoftmaxBackwardArgs {
  Tensor dx, y, dy;

  template <class V>
  void visit(V& v) {
    v.output("dx", dx);
    v.input("y", y);
    v.input("dy", dy);
  }
  void validate() const;
};

// out[n] = sum over rows m of x[m, n] (+ out[n] when accumulate): the gradient of a bias.
struct SumRowsArgs {
  Tensor out, x;
  bool accumulate = false;

  template <class V>
  void visit(V& v) {
    v.output("out", out);
    v.input("x", x);
    v.flag("accumulate", accumulate);
  }
  void validate() const;
};

}  // namespace wsi

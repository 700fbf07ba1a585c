// Shape and dtype rules of the basic ops, shared by every backend.
#include "wsi/error.h"
#include "wsi/ops/basic.h"

namespace wsi {
namespace {

void require_float(const char* op, const char* name, const Tensor& t) {
  WSI_CHECK(t.defined(), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' is required");
  WSI_CHECK(is_floating(t.dtype), ErrorCode::DTypeMismatch, op, ": tensor '", name,
            "' must be f32, bf16 or f16, got ", dtype_name(t.dtype));
}

void require_same_shape(const char* op, const char* name, const Tensor& t, const char* ref_name, const Tensor& ref) {
  WSI_CHECK(t.same_shape(ref), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' has shape ", t.shape_str(),
            " but '", ref_name, "' has ", ref.shape_str());
}

void require_matrix_rows(const char* op, const char* name, const Tensor& t) {
  WSI_CHECK(t.ndim >= 1, ErrorCode::ShapeMismatch, op, ": tensor '", name, "' needs at least 1 dimension, got a scalar");
}

}  // namespace

int64_t MatmulArgs::m() const {
  if (trans_a) return a.dim(1);
  int64_t rows = 1;
  for (int i = 0; i + 1 < a.ndim; ++i) rows *= a.shape[i];
  return rows;
}
int64_t MatmulArgs::k() const { return trans_a ? a.dim(0) : a.dim(-1); }
int64_t MatmulArgs::n() const { return trans_b ? b.dim(0) : b.dim(1); }

void MatmulArgs::validate() const {
  const char* op = "matmul";
  require_float(op, "out", out);
  require_float(op, "a", a);
  require_float(op, "b", b);
  WSI_CHECK(b.ndim == 2, ErrorCode::ShapeMismatch, op, ": tensor 'b' must be 2-D, got ", b.shape_str());
  WSI_CHECK(trans_a ? a.ndim == 2 : a.ndim >= 1, ErrorCode::ShapeMismatch, op, ": tensor 'a' must be ",
            trans_a ? "2-D with transA" : "at least 1-D", ", got ", a.shape_str());
  const int64_t b_k = trans_b ? b.dim(1) : b.dim(0);
  WSI_CHECK(b_k == k(), ErrorCode::ShapeMismatch, op, ": inner sizes differ: 'a' ", a.shape_str(),
            trans_a ? " (transposed)" : "", " and 'b' ", b.shape_str(), trans_b ? " (transposed)" : "");
  WSI_CHECK(out.numel() == m() * n() && out.dim(-1) == n(), ErrorCode::ShapeMismatch, op, ": tensor 'out' has shape ",
            out.shape_str(), " but the product is [", m(), ", ", n(), "]");
  if (bias.defined()) {
    require_float(op, "bias", bias);
    WSI_CHECK(bias.numel() == n(), ErrorCode::ShapeMismatch, op, ": tensor 'bias' has shape ", bias.shape_str(),
              " but the output has ", n(), " columns");
  }
}

void AddArgs::validate() const {
  require_float("add", "out", out);
  require_float("add", "a", a);
  require_float("add", "b", b);
  require_same_shape("add", "b", b, "a", a);
  require_same_shape("add", "out", out, "a", a);
}

void ScaleArgs::validate() const {
  require_float("scale", "out", out);
  require_float("scale", "x", x);
  require_same_shape("scale", "out", out, "x", x);
}

void SoftmaxArgs::validate() const {
  require_float("softmax", "out", out);
  require_float("softmax", "x", x);
  require_matrix_rows("softmax", "x", x);
  require_same_shape("softmax", "out", out, "x", x);
}

void SoftmaxBackwardArgs::validate() const {
  require_float("softmax_backward", "dx", dx);
  require_float("softmax_backward", "y", y);
  require_float("softmax_backward", "dy", dy);
  require_matrix_rows("softmax_backward", "y", y);
  require_same_shape("softmax_backward", "dy", dy, "y", y);
  require_same_shape("softmax_backward", "dx", dx, "y", y);
}

void SumRowsArgs::validate() const {
  require_float("sum_rows", "out", out);
  require_float("sum_rows", "x", x);
  require_matrix_rows("sum_rows", "x", x);
  WSI_CHECK(out.numel() == x.dim(-1), ErrorCode::ShapeMismatch, "sum_rows: tensor 'out' has shape ", out.shape_str(),
            " but 'x' has ", x.dim(-1), " columns");
}

}  // namespace wsi

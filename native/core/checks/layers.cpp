// Shape and dtype rules of the layer ops (wsi/ops/layers.h), shared by every backend.
#include "require.h"
#include "wsi/ops/layers.h"

namespace wsi {
using namespace checks;

void GeluArgs::validate() const {
  require_float("gelu", "out", out);
  require_float("gelu", "x", x);
  require_same_shape("gelu", "out", out, "x", x);
}

void GeluBackwardArgs::validate() const {
  const char* op = "gelu_backward";
  require_float(op, "dx", dx);
  require_float(op, "x", x);
  require_float(op, "dy", dy);
  require_same_shape(op, "dy", dy, "x", x);
  require_same_shape(op, "dx", dx, "x", x);
}

void LayerNormArgs::validate() const {
  const char* op = "layer_norm";
  require_float(op, "out", out);
  require_float(op, "x", x);
  require_float(op, "weight", weight);
  require_float(op, "bias", bias);
  require_dtype(op, "mean", mean, DType::F32);
  require_dtype(op, "rstd", rstd, DType::F32);
  WSI_CHECK(x.ndim >= 1, ErrorCode::ShapeMismatch, op, ": tensor 'x' needs at least 1 dimension");
  require_same_shape(op, "out", out, "x", x);
  require_shape(op, "weight", weight, {x.dim(-1)});
  require_shape(op, "bias", bias, {x.dim(-1)});
  require_shape(op, "mean", mean, {x.rows()});
  require_shape(op, "rstd", rstd, {x.rows()});
  WSI_CHECK(eps > 0.0f, ErrorCode::ShapeMismatch, op, ": 'eps' must be positive, got ", eps);
}

void LayerNormBackwardArgs::validate() const {
  const char* op = "layer_norm_backward";
  require_float(op, "dx", dx);
  require_float(op, "dweight", dweight);
  require_float(op, "dbias", dbias);
  require_float(op, "x", x);
  require_float(op, "weight", weight);
  require_float(op, "dy", dy);
  require_dtype(op, "mean", mean, DType::F32);
  require_dtype(op, "rstd", rstd, DType::F32);
  WSI_CHECK(x.ndim >= 1, ErrorCode::ShapeMismatch, op, ": tensor 'x' needs at least 1 dimension");
  require_same_shape(op, "dx", dx, "x", x);
  require_same_shape(op, "dy", dy, "x", x);
  require_shape(op, "weight", weight, {x.dim(-1)});
  require_shape(op, "dweight", dweight, {x.dim(-1)});
  require_shape(op, "dbias", dbias, {x.dim(-1)});
  require_shape(op, "mean", mean, {x.rows()});
  require_shape(op, "rstd", rstd, {x.rows()});
}

void DropoutArgs::validate() const {
  require_float("dropout", "out", out);
  require_float("dropout", "x", x);
  require_same_shape("dropout", "out", out, "x", x);
  WSI_CHECK(p >= 0.0f && p < 1.0f, ErrorCode::ShapeMismatch, "dropout: 'p' must be in [0, 1), got ", p);
}

int64_t MatmulBiasGeluArgs::m() const { return a.rows(); }

void MatmulBiasGeluArgs::validate() const {
  const char* op = "matmul_bias_gelu";
  require_float(op, "out", out);
  require_float(op, "a", a);
  require_float(op, "weight", weight);
  require_float(op, "bias", bias);
  require_ndim(op, "weight", weight, 2);
  WSI_CHECK(a.ndim >= 1 && a.dim(-1) == weight.dim(1), ErrorCode::ShapeMismatch, op, ": 'a' ", a.shape_str(),
            " does not fit 'weight' ", weight.shape_str(), " (out, in)");
  require_shape(op, "bias", bias, {weight.dim(0)});
  WSI_CHECK(out.ndim >= 1 && out.dim(-1) == weight.dim(0) && out.rows() == m(), ErrorCode::ShapeMismatch, op,
            ": tensor 'out' has shape ", out.shape_str(), " but the product is [", m(), ", ", weight.dim(0), "]");
  if (pre.defined()) {
    require_float(op, "pre", pre);
    require_same_shape(op, "pre", pre, "out", out);
  }
}

void SwapAxes01Args::validate() const {
  require_float("swap_axes01", "out", out);
  require_float("swap_axes01", "x", x);
  require_ndim("swap_axes01", "x", x, 3);
  require_shape("swap_axes01", "out", out, {x.dim(1), x.dim(0), x.dim(2)});
}

namespace {
void check_rows(const char* op, const Tensor& out, const Tensor& x, const Tensor& index, const Tensor& many,
                const Tensor& few) {
  require_float(op, "out", out);
  require_float(op, "x", x);
  require_dtype(op, "index", index, DType::I32);
  require_ndim(op, "out", out, 2);
  require_ndim(op, "x", x, 2);
  require_ndim(op, "index", index, 1);
  WSI_CHECK(out.dim(1) == x.dim(1), ErrorCode::ShapeMismatch, op, ": 'out' ", out.shape_str(), " and 'x' ",
            x.shape_str(), " differ in width");
  WSI_CHECK(few.dim(0) == index.dim(0) && few.dim(0) <= many.dim(0), ErrorCode::ShapeMismatch, op, ": 'index' ",
            index.shape_str(), " must have one entry per gathered row (", few.dim(0), ") and at most ", many.dim(0));
}
}  // namespace

void GatherRowsArgs::validate() const { check_rows("gather_rows", out, x, index, x, out); }
void ScatterRowsArgs::validate() const { check_rows("scatter_rows", out, x, index, out, x); }

}  // namespace wsi

// Shape and dtype rules of the Qwen3 layer ops (wsi/ops/qwen3.h), shared by every backend.
#include <utility>

#include "require.h"
#include "wsi/ops/qwen3.h"

namespace wsi {
using namespace checks;

namespace {

void require_rows(const char* op, const char* name, const Tensor& t) {
  WSI_CHECK(t.ndim >= 1, ErrorCode::ShapeMismatch, op, ": tensor '", name, "' needs at least 1 dimension");
}

}  // namespace

void RmsNormArgs::validate() const {
  const char* op = "rms_norm";
  require_float(op, "out", out);
  require_float(op, "x", x);
  require_float(op, "weight", weight);
  require_dtype(op, "rstd", rstd, DType::F32);
  require_rows(op, "x", x);
  require_same_shape(op, "out", out, "x", x);
  require_shape(op, "weight", weight, {x.dim(-1)});
  require_shape(op, "rstd", rstd, {x.rows()});
  WSI_CHECK(eps > 0.0f, ErrorCode::ShapeMismatch, op, ": 'eps' must be positive, got ", eps);
}

void RmsNormBackwardArgs::validate() const {
  const char* op = "rms_norm_backward";
  require_float(op, "dx", dx);
  require_float(op, "x", x);
  require_float(op, "weight", weight);
  require_float(op, "dy", dy);
  require_dtype(op, "rstd", rstd, DType::F32);
  require_rows(op, "x", x);
  require_same_shape(op, "dx", dx, "x", x);
  require_same_shape(op, "dy", dy, "x", x);
  require_shape(op, "weight", weight, {x.dim(-1)});
  require_shape(op, "rstd", rstd, {x.rows()});
  if (dweight.defined()) {
    require_dtype(op, "dweight", dweight, DType::F32);
    require_shape(op, "dweight", dweight, {x.dim(-1)});
  }
}

void RopeArgs::validate() const {
  const char* op = "rope";
  require_float(op, "out", out);
  require_float(op, "x", x);
  require_ndim(op, "x", x, 4);
  require_same_shape(op, "out", out, "x", x);
  require_dtype(op, "positions", positions, DType::I32);
  require_shape(op, "positions", positions, {x.dim(0), x.dim(1)});
  WSI_CHECK(x.dim(3) % 2 == 0, ErrorCode::ShapeMismatch, op, ": the head dim of 'x' must be even, got ", x.shape_str());
  WSI_CHECK(theta > 1.0f, ErrorCode::ShapeMismatch, op, ": 'theta' must be greater than 1, got ", theta);
}

void SwigluArgs::validate() const {
  const char* op = "swiglu";
  require_float(op, "out", out);
  require_float(op, "gate", gate);
  require_float(op, "up", up);
  require_same_shape(op, "up", up, "gate", gate);
  require_same_shape(op, "out", out, "gate", gate);
}

void SwigluBackwardArgs::validate() const {
  const char* op = "swiglu_backward";
  for (const auto& [name, t] : {std::pair{"dgate", &dgate}, {"dup", &dup}, {"dy", &dy}, {"gate", &gate}, {"up", &up}}) {
    require_float(op, name, *t);
    require_same_shape(op, name, *t, "gate", gate);
  }
}

void EmbeddingArgs::validate() const {
  const char* op = "embedding";
  require_float(op, "out", out);
  require_float(op, "table", table);
  require_dtype(op, "ids", ids, DType::I32);
  require_ndim(op, "table", table, 2);
  require_ndim(op, "ids", ids, 1);
  require_shape(op, "out", out, {ids.dim(0), table.dim(1)});
}

void EmbeddingBackwardArgs::validate() const {
  const char* op = "embedding_backward";
  require_dtype(op, "dtable", dtable, DType::F32);
  require_float(op, "dy", dy);
  require_dtype(op, "ids", ids, DType::I32);
  require_ndim(op, "dtable", dtable, 2);
  require_ndim(op, "ids", ids, 1);
  require_shape(op, "dy", dy, {ids.dim(0), dtable.dim(1)});
}

void AdamwArgs::validate() const {
  const char* op = "adamw";
  require_float(op, "param", param);
  require_float(op, "grad", grad);
  require_dtype(op, "m", m, DType::F32);
  require_dtype(op, "v", v, DType::F32);
  require_same_shape(op, "grad", grad, "param", param);
  require_same_shape(op, "m", m, "param", param);
  require_same_shape(op, "v", v, "param", param);
  if (master.defined()) {
    require_dtype(op, "master", master, DType::F32);
    require_same_shape(op, "master", master, "param", param);
  } else {
    WSI_CHECK(param.dtype == DType::F32, ErrorCode::DTypeMismatch, op, ": a ", dtype_name(param.dtype),
              " 'param' needs an f32 'master' copy to step");
  }
  WSI_CHECK(step >= 1, ErrorCode::ShapeMismatch, op, ": 'step' must be at least 1, got ", step);
  WSI_CHECK(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, ErrorCode::ShapeMismatch, op,
            ": 'beta1' and 'beta2' must be in [0, 1), got ", beta1, " and ", beta2);
  WSI_CHECK(lr >= 0.0f && eps > 0.0f && weight_decay >= 0.0f, ErrorCode::ShapeMismatch, op,
            ": 'lr' and 'weightDecay' must be non-negative and 'eps' positive");
}

void SumSquaresArgs::validate() const {
  require_dtype("sum_squares", "out", out, DType::F32);
  require_shape("sum_squares", "out", out, {1});
  require_float("sum_squares", "x", x);
}

void PutRowsArgs::validate() const {
  const char* op = "put_rows";
  require_float(op, "out", out);
  require_float(op, "x", x);
  require_dtype(op, "index", index, DType::I32);
  require_ndim(op, "out", out, 2);
  require_ndim(op, "index", index, 1);
  require_shape(op, "x", x, {index.dim(0), out.dim(1)});
}

void FillArgs::validate() const { require_float("fill", "out", out); }

}  // namespace wsi

// Shape and dtype rules of the fused linear cross-entropy (wsi/ops/loss.h).
#include "require.h"
#include "wsi/ops/loss.h"

namespace wsi {
using namespace checks;

void LinearCrossEntropyArgs::validate() const {
  const char* op = "linear_cross_entropy";
  require_float(op, "hidden", hidden);
  require_float(op, "weight", weight);
  require_ndim(op, "hidden", hidden, 2);
  require_ndim(op, "weight", weight, 2);
  const int64_t t = hidden.dim(0), h = hidden.dim(1), v = weight.dim(0);
  WSI_CHECK(weight.dim(1) == h, ErrorCode::ShapeMismatch, op, ": 'weight' ", weight.shape_str(),
            " (vocab, hidden) does not fit 'hidden' ", hidden.shape_str());
  require_dtype(op, "labels", labels, DType::I32);
  require_shape(op, "labels", labels, {t});
  require_dtype(op, "workspace", workspace, DType::F32);
  require_ndim(op, "workspace", workspace, 2);
  WSI_CHECK(workspace.dim(1) == v && workspace.dim(0) >= 1, ErrorCode::ShapeMismatch, op, ": 'workspace' ",
            workspace.shape_str(), " must be (chunk, ", v, ")");
  WSI_CHECK(chunk >= 0 && chunk <= workspace.dim(0), ErrorCode::ShapeMismatch, op, ": 'chunk' ", chunk,
            " must be in [0, ", workspace.dim(0), "] (the workspace's rows)");
  require_dtype(op, "loss", loss, DType::F32);
  require_shape(op, "loss", loss, {1});
  require_dtype(op, "count", count, DType::F32);
  require_shape(op, "count", count, {1});
  if (token_loss.defined()) {
    require_dtype(op, "tokenLoss", token_loss, DType::F32);
    require_shape(op, "tokenLoss", token_loss, {t});
  }
  if (dhidden.defined()) {
    require_float(op, "dhidden", dhidden);
    require_same_shape(op, "dhidden", dhidden, "hidden", hidden);
  }
  if (dweight.defined()) {
    require_float(op, "dweight", dweight);
    require_same_shape(op, "dweight", dweight, "weight", weight);
  }
}

}  // namespace wsi

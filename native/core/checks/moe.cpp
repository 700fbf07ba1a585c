// Shape and dtype rules of the MoE routing ops (wsi/ops/moe.h), shared by every backend. Whether
// offsets describe non-empty slides is checked by each backend, where the offsets are.
#include <utility>

#include "require.h"
#include "wsi/ops/moe.h"

namespace wsi {
using namespace checks;

namespace {
void require_slots(const char* op, int64_t k) {
  WSI_CHECK(k >= 1 && k <= kMaxMoeSlots, ErrorCode::Unsupported, op, ": ", k, " slots; between 1 and ",
            kMaxMoeSlots, " are supported");
}
void require_top_k(const char* op, int64_t top_k, int64_t k) {
  WSI_CHECK(top_k >= 1 && top_k <= k, ErrorCode::ShapeMismatch, op, ": 'topK' must be in [1, ", k, "], got ", top_k);
}
}  // namespace

void MoeRouteArgs::validate() const {
  const char* op = "moe_route";
  require_float(op, "logits", logits);
  require_ndim(op, "logits", logits, 2);
  const int64_t n = logits.dim(0), k = logits.dim(1);
  WSI_CHECK(n >= 1, ErrorCode::ShapeMismatch, op, ": 'logits' ", logits.shape_str(), " has no patches");
  require_slots(op, k);
  require_top_k(op, top_k, k);
  for (auto [name, t] : {std::pair{"probs", &probs}, {"weights", &weights}}) {
    require_dtype(op, name, *t, DType::F32);
    require_shape(op, name, *t, {n, k});
  }
  for (auto [name, t] : {std::pair{"slotLoad", &slot_load}, {"slotProb", &slot_prob}}) {
    require_dtype(op, name, *t, DType::F32);
    require_shape(op, name, *t, {k});
  }
  require_dtype(op, "auxLoss", aux_loss, DType::F32);
  require_shape(op, "auxLoss", aux_loss, {1});
  WSI_CHECK(noise >= 0.0f, ErrorCode::ShapeMismatch, op, ": 'noise' must be >= 0, got ", noise);
  if (offsets.defined()) {
    require_dtype(op, "offsets", offsets, DType::I32);
    require_ndim(op, "offsets", offsets, 1);
    WSI_CHECK(offsets.dim(0) >= 2, ErrorCode::ShapeMismatch, op, ": 'offsets' ", offsets.shape_str(),
              " must hold at least one slide (S + 1 entries)");
  }
}

void non_finite_gate_error(int64_t row, int64_t slot, float value, const int32_t* offsets, int64_t slides) {
  const std::string what = concat("the gate logit of patch row ", row, ", slot ", slot, " is ", value);
  for (int64_t s = 0; offsets && s < slides; ++s)
    if (offsets[s] <= row && row < offsets[s + 1])
      fail(ErrorCode::Format, "moe_route: slide ", s, ": ", what, " (its patch ", row - offsets[s], " of ",
           offsets[s + 1] - offsets[s], "): are the slide's features or the gate's weights NaN or infinite?");
  fail(ErrorCode::Format, "moe_route: ", what, ": are the features or the gate's weights NaN or infinite?");
}

void MoeRouteBackwardArgs::validate() const {
  const char* op = "moe_route_backward";
  require_float(op, "dlogits", dlogits);
  require_ndim(op, "dlogits", dlogits, 2);
  const int64_t n = dlogits.dim(0), k = dlogits.dim(1);
  require_slots(op, k);
  require_top_k(op, top_k, k);
  require_dtype(op, "probs", probs, DType::F32);
  require_shape(op, "probs", probs, {n, k});
  require_float(op, "dweights", dweights);
  require_shape(op, "dweights", dweights, {n, k});
  require_dtype(op, "slotLoad", slot_load, DType::F32);
  require_shape(op, "slotLoad", slot_load, {k});
}

namespace {
// x (N, D), weights (N, K) f32, offsets (S + 1) i32; returns {N, D, K, S}.
struct MoeSizes {
  int64_t n, d, k, s;
};
MoeSizes check_ragged(const char* op, const Tensor& x, const Tensor& weights, const Tensor& offsets) {
  require_float(op, "x", x);
  require_ndim(op, "x", x, 2);
  require_dtype(op, "weights", weights, DType::F32);
  require_ndim(op, "weights", weights, 2);
  require_dtype(op, "offsets", offsets, DType::I32);
  require_ndim(op, "offsets", offsets, 1);
  WSI_CHECK(offsets.dim(0) >= 2, ErrorCode::ShapeMismatch, op, ": 'offsets' ", offsets.shape_str(),
            " must hold at least one slide (S + 1 >= 2 entries)");
  const MoeSizes s{x.dim(0), x.dim(1), weights.dim(1), offsets.dim(0) - 1};
  require_slots(op, s.k);
  WSI_CHECK(weights.dim(0) == s.n, ErrorCode::ShapeMismatch, op, ": 'weights' ", weights.shape_str(),
            " needs one row per patch of 'x' ", x.shape_str());
  return s;
}
}  // namespace

void MoeSlotMeanArgs::validate() const {
  const char* op = "moe_slot_mean";
  const MoeSizes s = check_ragged(op, x, weights, offsets);
  require_dtype(op, "slots", slots, DType::F32);  // the CUDA kernel accumulates into it
  require_shape(op, "slots", slots, {s.k, s.s, s.d});
  require_dtype(op, "denom", denom, DType::F32);
  require_shape(op, "denom", denom, {s.k, s.s});
}

void MoeSlotMeanBackwardArgs::validate() const {
  const char* op = "moe_slot_mean_backward";
  const MoeSizes s = check_ragged(op, x, weights, offsets);
  require_float(op, "dx", dx);
  require_same_shape(op, "dx", dx, "x", x);
  require_float(op, "dweights", dweights);
  require_same_shape(op, "dweights", dweights, "weights", weights);
  require_float(op, "dslots", dslots);
  require_shape(op, "dslots", dslots, {s.k, s.s, s.d});
  require_float(op, "slots", slots);
  require_shape(op, "slots", slots, {s.k, s.s, s.d});
  require_dtype(op, "denom", denom, DType::F32);
  require_shape(op, "denom", denom, {s.k, s.s});
}

}  // namespace wsi

// Shape and dtype rules of the attention ops, shared by every backend.
#include <cmath>

#include "wsi/error.h"
#include "wsi/ops/attention.h"

namespace wsi {
namespace {

void require_rank(const char* op, const char* name, const Tensor& t, int ndim, const char* layout) {
  WSI_CHECK(t.defined(), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' is required");
  WSI_CHECK(t.ndim == ndim, ErrorCode::ShapeMismatch, op, ": tensor '", name, "' must be ", layout, ", got ",
            t.shape_str());
}

void require_float(const char* op, const char* name, const Tensor& t) {
  WSI_CHECK(is_floating(t.dtype), ErrorCode::DTypeMismatch, op, ": tensor '", name,
            "' must be f32, bf16 or f16, got ", dtype_name(t.dtype));
}

void require_dtype(const char* op, const char* name, const Tensor& t, DType dtype) {
  WSI_CHECK(t.dtype == dtype, ErrorCode::DTypeMismatch, op, ": tensor '", name, "' must be ", dtype_name(dtype),
            ", got ", dtype_name(t.dtype));
}

void require_same_shape(const char* op, const char* name, const Tensor& t, const char* ref_name, const Tensor& ref) {
  WSI_CHECK(t.defined(), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' is required");
  WSI_CHECK(t.same_shape(ref), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' has shape ", t.shape_str(),
            " but '", ref_name, "' has ", ref.shape_str());
}

// q (B, T, Hq, D), k and v (B, T, Hkv, D) with Hq a multiple of Hkv; one floating dtype.
void check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v) {
  require_rank(op, "q", q, 4, "(B, T, Hq, D)");
  require_rank(op, "k", k, 4, "(B, T, Hkv, D)");
  require_float(op, "q", q);
  require_dtype(op, "k", k, q.dtype);
  require_dtype(op, "v", v, q.dtype);
  require_same_shape(op, "v", v, "k", k);
  WSI_CHECK(k.dim(0) == q.dim(0) && k.dim(1) == q.dim(1) && k.dim(3) == q.dim(3), ErrorCode::ShapeMismatch, op,
            ": 'k' ", k.shape_str(), " must match 'q' ", q.shape_str(), " in B, T and D");
  WSI_CHECK(k.dim(2) > 0 && q.dim(2) % k.dim(2) == 0, ErrorCode::ShapeMismatch, op, ": ", q.dim(2),
            " query heads cannot be grouped over ", k.dim(2), " key-value heads");
  WSI_CHECK(q.dim(3) > 0, ErrorCode::ShapeMismatch, op, ": head dim must be positive, got ", q.shape_str());
}

void check_lengths(const char* op, const char* name, const Tensor& lens, int64_t batch) {
  if (!lens.defined()) return;
  require_dtype(op, name, lens, DType::I32);
  WSI_CHECK(lens.ndim == 1 && lens.dim(0) == batch, ErrorCode::ShapeMismatch, op, ": tensor '", name,
            "' must be (B) = [", batch, "], got ", lens.shape_str());
}

void check_lse(const char* op, const char* name, const Tensor& lse, const Tensor& q) {
  require_dtype(op, name, lse, DType::F32);
  WSI_CHECK(lse.ndim == 3 && lse.dim(0) == q.dim(0) && lse.dim(1) == q.dim(2) && lse.dim(2) == q.dim(1),
            ErrorCode::ShapeMismatch, op, ": tensor '", name, "' must be (B, Hq, T) = [", q.dim(0), ", ", q.dim(2),
            ", ", q.dim(1), "], got ", lse.shape_str());
}

float resolve_scale(float scale, int64_t head_dim) {
  return scale != 0.0f ? scale : 1.0f / std::sqrt(float(head_dim));
}

}  // namespace

void AttentionArgs::validate() const {
  const char* op = "attention";
  check_qkv(op, q, k, v);
  require_same_shape(op, "out", out, "q", q);
  require_float(op, "out", out);
  WSI_CHECK(lse.defined(), ErrorCode::ShapeMismatch, op, ": tensor 'lse' is required");
  check_lse(op, "lse", lse, q);
  check_lengths(op, "seqLens", seq_lens, q.dim(0));
}
float AttentionArgs::softmax_scale() const { return resolve_scale(scale, q.dim(3)); }

void AttentionBackwardArgs::validate() const {
  const char* op = "attention_backward";
  check_qkv(op, q, k, v);
  require_same_shape(op, "out", out, "q", q);
  require_same_shape(op, "dout", dout, "q", q);
  require_same_shape(op, "dq", dq, "q", q);
  require_same_shape(op, "dk", dk, "k", k);
  require_same_shape(op, "dv", dv, "v", v);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"out", &out}, {"dout", &dout}, {"dq", &dq},
                                {"dk", &dk}, {"dv", &dv}})
    require_float(op, name, *t);
  WSI_CHECK(lse.defined() && delta.defined(), ErrorCode::ShapeMismatch, op, ": tensors 'lse' and 'delta' are required");
  check_lse(op, "lse", lse, q);
  check_lse(op, "delta", delta, q);
  check_lengths(op, "seqLens", seq_lens, q.dim(0));
}
float AttentionBackwardArgs::softmax_scale() const { return resolve_scale(scale, q.dim(3)); }

void AttentionDecodeArgs::validate() const {
  const char* op = "attention_decode";
  require_rank(op, "q", q, 3, "(B, Hq, D)");
  require_rank(op, "kCache", k_cache, 4, "(B, S, Hkv, D)");
  require_float(op, "q", q);
  require_dtype(op, "kCache", k_cache, q.dtype);
  require_dtype(op, "vCache", v_cache, q.dtype);
  require_same_shape(op, "vCache", v_cache, "kCache", k_cache);
  require_same_shape(op, "out", out, "q", q);
  require_float(op, "out", out);
  WSI_CHECK(k_cache.dim(0) == q.dim(0) && k_cache.dim(3) == q.dim(2), ErrorCode::ShapeMismatch, op, ": 'kCache' ",
            k_cache.shape_str(), " must match 'q' ", q.shape_str(), " in B and D");
  WSI_CHECK(k_cache.dim(2) > 0 && q.dim(1) % k_cache.dim(2) == 0, ErrorCode::ShapeMismatch, op, ": ", q.dim(1),
            " query heads cannot be grouped over ", k_cache.dim(2), " key-value heads");
  WSI_CHECK(q.dim(2) > 0, ErrorCode::ShapeMismatch, op, ": head dim must be positive, got ", q.shape_str());
  WSI_CHECK(cache_lens.defined(), ErrorCode::ShapeMismatch, op, ": tensor 'cacheLens' is required");
  check_lengths(op, "cacheLens", cache_lens, q.dim(0));
}
float AttentionDecodeArgs::softmax_scale() const { return resolve_scale(scale, q.dim(2)); }

}  // namespace wsi

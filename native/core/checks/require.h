// Small shape and dtype requirements shared by the argument checks of the op families.
#pragma once

#include <initializer_list>
#include <string>

#include "wsi/error.h"
#include "wsi/tensor.h"

namespace wsi::checks {

inline void require_float(const char* op, const char* name, const Tensor& t) {
  WSI_CHECK(t.defined(), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' is required");
  WSI_CHECK(is_floating(t.dtype), ErrorCode::DTypeMismatch, op, ": tensor '", name,
            "' must be f32, bf16 or f16, got ", dtype_name(t.dtype));
}

inline void require_dtype(const char* op, const char* name, const Tensor& t, DType dtype) {
  WSI_CHECK(t.defined(), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' is required");
  WSI_CHECK(t.dtype == dtype, ErrorCode::DTypeMismatch, op, ": tensor '", name, "' must be ", dtype_name(dtype),
            ", got ", dtype_name(t.dtype));
}

inline void require_same_shape(const char* op, const char* name, const Tensor& t, const char* ref_name,
                               const Tensor& ref) {
  WSI_CHECK(t.same_shape(ref), ErrorCode::ShapeMismatch, op, ": tensor '", name, "' has shape ", t.shape_str(),
            " but '", ref_name, "' has ", ref.shape_str());
}

// t has exactly the given dimensions.
inline void require_shape(const char* op, const char* name, const Tensor& t, std::initializer_list<int64_t> dims) {
  bool same = t.ndim == int(dims.size());
  int i = 0;
  for (int64_t d : dims) same = same && t.shape[i++] == d;
  std::string want = "[";
  i = 0;
  for (int64_t d : dims) want += (i++ ? ", " : "") + std::to_string(d);
  WSI_CHECK(same, ErrorCode::ShapeMismatch, op, ": tensor '", name, "' must have shape ", want, "], got ",
            t.shape_str());
}

inline void require_ndim(const char* op, const char* name, const Tensor& t, int ndim) {
  WSI_CHECK(t.ndim == ndim, ErrorCode::ShapeMismatch, op, ": tensor '", name, "' must be ", ndim, "-D, got ",
            t.shape_str());
}

}  // namespace wsi::checks

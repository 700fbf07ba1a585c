#include "convert.h"

#include <cstring>

#include "wsi/error.h"

namespace wsi::cpu {

void load_f32(const Tensor& t, int64_t offset, int64_t count, float* dst) {
  switch (t.dtype) {
    case DType::F32: {
      const float* src = t.as<float>() + offset;
      if (src != dst) std::memcpy(dst, src, size_t(count) * 4);
      return;
    }
    case DType::BF16: {
      const uint16_t* src = t.as<uint16_t>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(src[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* src = t.as<uint16_t>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = f16_to_f32(src[i]);
      return;
    }
    default:
      fail(ErrorCode::DTypeMismatch, "cannot read ", dtype_name(t.dtype), " as floating point");
  }
}

void store_f32(const float* src, const Tensor& t, int64_t offset, int64_t count) {
  switch (t.dtype) {
    case DType::F32: {
      float* dst = t.as<float>() + offset;
      if (src != dst) std::memcpy(dst, src, size_t(count) * 4);
      return;
    }
    case DType::BF16: {
      uint16_t* dst = t.as<uint16_t>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::F16: {
      uint16_t* dst = t.as<uint16_t>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = f32_to_f16(src[i]);
      return;
    }
    default:
      fail(ErrorCode::DTypeMismatch, "cannot write floating point into ", dtype_name(t.dtype));
  }
}

}  // namespace wsi::cpu

// Row conversions between a tensor's dtype and f32, the CPU backend's compute type. Each switches
// on the dtype once per call, so loops inside stay tight.
#pragma once

#include <cstdint>

#include "wsi/tensor.h"

namespace wsi::cpu {

// dst[i] = float(t[offset + i]) for i < count.
void load_f32(const Tensor& t, int64_t offset, int64_t count, float* dst);

// t[offset + i] = src[i], rounded to t's dtype.
void store_f32(const float* src, const Tensor& t, int64_t offset, int64_t count);

}  // namespace wsi::cpu

// Loads and stores of any floating dtype as f32 inside kernels.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "wsi/dtype.h"

namespace wsi::cuda {

__device__ __forceinline__ float load_f32(const void* base, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
    case DType::F16: return __half2float(static_cast<const __half*>(base)[i]);
    default: return static_cast<const float*>(base)[i];
  }
}

__device__ __forceinline__ void store_f32(void* base, DType dtype, int64_t i, float v) {
  switch (dtype) {
    case DType::BF16: static_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16(v); break;
    case DType::F16: static_cast<__half*>(base)[i] = __float2half(v); break;
    default: static_cast<float*>(base)[i] = v; break;
  }
}

// Grid size for a grid-stride loop over n items with `threads` per block.
inline unsigned blocks_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return unsigned(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

}  // namespace wsi::cuda

// Packing for the GEMM: blocks of a and b copied into the order the micro-kernel reads them,
// widened to f32 on the way (bf16, f16), zero past the matrix's edge so every tile is whole.
//   a panel (mr rows × kc): dst[k·mr + i]      b panel (kc × nr columns): dst[k·nr + j]
#pragma once

#include <cstdint>

#include "gemm.h"
#include "kernels.h"

namespace wsi::cpu {

// dst[i] = float(src[offset + i]) for i < count, src holding `dtype` elements.
void widen(const void* src, DType dtype, int64_t offset, int64_t count, float* dst);

// dst[offset + i] = src[i] rounded to `dtype`.
void narrow(const float* src, void* dst, DType dtype, int64_t offset, int64_t count);

// Rows [i0, i0 + rows) × columns [k0, k0 + kc) of a into one panel of kernel.mr rows.
void pack_a_panel(const GemmInput& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, const MicroKernel& kernel,
                  float* dst);

// Rows [k0, k0 + kc) × columns [j0, j0 + cols) of b into one panel of kernel.nr columns.
void pack_b_panel(const GemmInput& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, const MicroKernel& kernel,
                  float* dst);

}  // namespace wsi::cpu

// The GEMM's micro-kernels and the 8×8 transpose its packing uses, one set per instruction-set
// level, chosen at run time (the addon is built for baseline x86-64 and ships to any CPU).
#pragma once

#include <cstdint>

namespace wsi::cpu {

struct MicroKernel {
  const char* name;
  int mr, nr;  // the tile of out one call computes
  // c (mr × nr, row stride ldc) = (first ? 0 : c) + Σ_k a[k·mr + i] · b[k·nr + j] over k < kc, one
  // fused multiply-add per k in order. a and b are packed panels (packing.h), zero past the matrix.
  void (*run)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool first);
  // dst[j·dst_stride + i] = src[i·src_stride + j] for i, j < 8.
  void (*transpose8)(const float* src, int64_t src_stride, float* dst, int64_t dst_stride);
};

// The best kernel this CPU runs, or the one WSI_VQA_CPU_GEMM names (avx512, avx2, portable);
// naming one the CPU lacks is an UnsupportedError.
const MicroKernel& micro_kernel();

}  // namespace wsi::cpu

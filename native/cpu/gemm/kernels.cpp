// Micro-kernels: out tile += a panel · b panel, the rank-1 update per k in vector registers.
// Vectors run along a row of out (n); each k broadcasts one value of a per row of the tile.
//   AVX-512: 12 × 32 (24 accumulators of 32 registers), AVX2 + FMA: 6 × 16 (12 of 16),
//   portable: 4 × 16 in plain C++ (no fused multiply-add: other machines, other bits).
// Intrinsics are compiled per function with a target attribute, so the rest of the addon stays
// baseline x86-64; micro_kernel() picks by what the CPU reports.
#include "kernels.h"

#include <cstdlib>
#include <cstring>

#include "wsi/cpu_gemm.h"
#include "wsi/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define WSI_GEMM_X86 1
#endif

namespace wsi::cpu {
namespace {

template <int MR, int NR>
void portable_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool first) {
  float acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = first ? 0.0f : c[i * ldc + j];
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = acc[i][j];
}

void portable_transpose8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
}

#ifdef WSI_GEMM_X86

__attribute__((target("avx512f"))) void avx512_kernel(int64_t kc, const float* a, const float* b, float* c,
                                                      int64_t ldc, bool first) {
  constexpr int MR = 12;
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + i * ldc);
    acc[i][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + i * ldc + 16);
  }
  for (int64_t k = 0; k < kc; ++k, a += MR, b += 32) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    _mm512_storeu_ps(c + i * ldc, acc[i][0]);
    _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
  }
}

__attribute__((target("avx2,fma"))) void avx2_kernel(int64_t kc, const float* a, const float* b, float* c,
                                                     int64_t ldc, bool first) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + i * ldc);
    acc[i][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + i * ldc + 8);
  }
  for (int64_t k = 0; k < kc; ++k, a += MR, b += 16) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_ps(c + i * ldc, acc[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
  }
}

__attribute__((target("avx2"))) void avx2_transpose8(const float* src, int64_t src_stride, float* dst,
                                                     int64_t dst_stride) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // r_i0 r_{i+1}0 r_i1 r_{i+1}1 | same for 4, 5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // columns 2, 3 | 6, 7
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));      // column 0 | 4
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));  // column 1 | 5
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));  // column 2 | 6
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));  // column 3 | 7
  }
  for (int j = 0; j < 4; ++j) {
    _mm256_storeu_ps(dst + j * dst_stride, _mm256_permute2f128_ps(u[j], u[j + 4], 0x20));
    _mm256_storeu_ps(dst + (j + 4) * dst_stride, _mm256_permute2f128_ps(u[j], u[j + 4], 0x31));
  }
}

#endif  // WSI_GEMM_X86

const MicroKernel kPortable{"portable", 4, 16, portable_kernel<4, 16>, portable_transpose8};
#ifdef WSI_GEMM_X86
const MicroKernel kAvx2{"avx2", 6, 16, avx2_kernel, avx2_transpose8};
const MicroKernel kAvx512{"avx512", 12, 32, avx512_kernel, avx2_transpose8};
#endif

bool cpu_has(const char* level) {
#ifdef WSI_GEMM_X86
  __builtin_cpu_init();
  if (std::strcmp(level, "avx512") == 0) return __builtin_cpu_supports("avx512f");
  if (std::strcmp(level, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return std::strcmp(level, "portable") == 0;
}

const MicroKernel& by_name(const char* name) {
#ifdef WSI_GEMM_X86
  if (std::strcmp(name, "avx512") == 0) return kAvx512;
  if (std::strcmp(name, "avx2") == 0) return kAvx2;
#endif
  (void)name;
  return kPortable;
}

}  // namespace

const MicroKernel& micro_kernel() {
  static const MicroKernel* chosen = [] {
    const char* wanted = std::getenv("WSI_VQA_CPU_GEMM");
    if (wanted && *wanted && std::strcmp(wanted, "auto") != 0) {
      WSI_CHECK(std::strcmp(wanted, "avx512") == 0 || std::strcmp(wanted, "avx2") == 0 ||
                    std::strcmp(wanted, "portable") == 0,
                ErrorCode::Unsupported, "WSI_VQA_CPU_GEMM must be 'avx512', 'avx2', 'portable' or 'auto', got '",
                wanted, "'");
      WSI_CHECK(cpu_has(wanted), ErrorCode::Unsupported, "WSI_VQA_CPU_GEMM=", wanted, ": this CPU lacks it");
      return &by_name(wanted);
    }
    for (const char* level : {"avx512", "avx2"})
      if (cpu_has(level)) return &by_name(level);
    return &kPortable;
  }();
  return *chosen;
}

}  // namespace wsi::cpu

const char* wsi::cpu_gemm_kernel() { return cpu::micro_kernel().name; }

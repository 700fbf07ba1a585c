// exp over a row, three ways (vector_exp.h). The vector paths run a row in blocks of 16: the
// last, partial one goes through a buffer padded with −∞ (whose exp is 0). Their per-element
// arithmetic and their order of additions are the same, so AVX-512 and AVX2 give the same bits
// (as the GEMM's kernels do: resume on another machine stays exact); portable C++ has no fused
// multiply-add and differs in the last bits.
#include "vector_exp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "wsi/cpu_gemm.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes the _mm512_undefined_* inside its own AVX-512 header for uninitialised values
// (GCC bug 105593) wherever those intrinsics are inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#define WSI_EXP_X86 1
#endif

namespace wsi::cpu {
namespace {

// Cephes expf: exp(x) = 2ⁿ · eʳ, n = round(x·log₂e), r = x − n·(kLn2Hi + kLn2Lo).
constexpr float kLowest = -87.33654f;  // below: exp(x) < FLT_MIN, taken as 0
constexpr float kHighest = 88.0f;      // above: exp(88), so that 2ⁿ stays finite (softmax inputs are ≤ 0)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// The portable path, element by element.
float exp_portable(float x) {
  if (std::isnan(x)) return x;
  if (x < kLowest) return 0.0f;
  const float clamped = x > kHighest ? kHighest : x;
  const float n = std::nearbyint(clamped * kLog2e);
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  float p = kPoly[0];
  for (int i = 1; i < 6; ++i) p = p * r + kPoly[i];
  const float er = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return er * scale;
}

float max_portable(const float* x, int64_t n) {
  float m = x[0];
  for (int64_t j = 1; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

float exp_sum_portable(float* x, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += (x[j] = exp_portable(x[j] - shift));
  return sum;
}

#ifdef WSI_EXP_X86

// The vector paths: the shift subtracted, the body of exp_portable lane by lane with fused
// multiply-adds, and lanes below kLowest set to 0. max(lo, x) and min(hi, x) return x when it
// is NaN (the second operand wins), so NaN passes.
__attribute__((target("avx512f"))) __m512 exp512(__m512 x) {
  const __m512 clamped = _mm512_min_ps(_mm512_set1_ps(kHighest), _mm512_max_ps(_mm512_set1_ps(kLowest), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), clamped);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kPoly[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kPoly[i]));
  const __m512 er = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  const __m512 e = _mm512_mul_ps(er, _mm512_castsi512_ps(bits));
  const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kLowest), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(under, e, _mm512_setzero_ps());
}

__attribute__((target("avx512f"))) float max_avx512(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(kMinusInfinity);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + j));
  float best = _mm512_reduce_max_ps(m);
  for (; j < n; ++j) best = x[j] > best ? x[j] : best;
  return best;
}

__attribute__((target("avx512f"))) float exp_sum_avx512(float* x, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + j), s));
    _mm512_storeu_ps(x + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (j < n) {
    float tail[16];
    std::fill(tail, tail + 16, kMinusInfinity);
    std::copy(x + j, x + n, tail);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(tail), s));
    _mm512_storeu_ps(tail, e);
    std::copy(tail, tail + (n - j), x + j);
    sum = _mm512_add_ps(sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) __m256 exp256(__m256 x) {
  const __m256 clamped = _mm256_min_ps(_mm256_set1_ps(kHighest), _mm256_max_ps(_mm256_set1_ps(kLowest), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(clamped, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), clamped);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kPoly[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[i]));
  const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 e = _mm256_mul_ps(er, _mm256_castsi256_ps(bits));
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(kLowest), _CMP_LT_OQ);
  return _mm256_blendv_ps(e, _mm256_setzero_ps(), under);
}

// The sum of the 8 lanes in _mm512_reduce_add_ps's order after its first step.
__attribute__((target("avx2,fma"))) float reduce_add256(__m256 v) {
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1)));
}

__attribute__((target("avx2,fma"))) float max_avx2(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(kMinusInfinity);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + j));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float best = lanes[0];
  for (int i = 1; i < 8; ++i) best = lanes[i] > best ? lanes[i] : best;
  for (; j < n; ++j) best = x[j] > best ? x[j] : best;
  return best;
}

// exp over x[0 .. 16) in two halves, each added to its accumulator.
__attribute__((target("avx2,fma"))) void exp_block16_avx2(float* x, __m256 shift, __m256& low, __m256& high) {
  const __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x), shift));
  const __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + 8), shift));
  _mm256_storeu_ps(x, e0);
  _mm256_storeu_ps(x + 8, e1);
  low = _mm256_add_ps(low, e0);
  high = _mm256_add_ps(high, e1);
}

// Blocks of 16 in two halves, the halves added first and the tail padded to 16: the AVX-512
// path's order of additions, so both give the same bits.
__attribute__((target("avx2,fma"))) float exp_sum_avx2(float* x, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) exp_block16_avx2(x + j, s, low, high);
  if (j < n) {
    float tail[16];
    std::fill(tail, tail + 16, kMinusInfinity);
    std::copy(x + j, x + n, tail);
    exp_block16_avx2(tail, s, low, high);
    std::copy(tail, tail + (n - j), x + j);
  }
  return reduce_add256(_mm256_add_ps(high, low));
}

#endif

struct ExpPath {
  float (*max)(const float*, int64_t);
  float (*exp_sum)(float*, int64_t, float);
};

const ExpPath& exp_path() {
  static const ExpPath path = [] {
#ifdef WSI_EXP_X86
    const char* kernel = cpu_gemm_kernel();
    if (std::strcmp(kernel, "avx512") == 0) return ExpPath{max_avx512, exp_sum_avx512};
    if (std::strcmp(kernel, "avx2") == 0) return ExpPath{max_avx2, exp_sum_avx2};
#endif
    return ExpPath{max_portable, exp_sum_portable};
  }();
  return path;
}

}  // namespace

float row_max(const float* x, int64_t n) { return exp_path().max(x, n); }

float exp_shifted_sum(float* x, int64_t n, float shift) { return exp_path().exp_sum(x, n, shift); }

}  // namespace wsi::cpu

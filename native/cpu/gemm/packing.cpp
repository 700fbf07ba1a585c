#include "packing.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "wsi/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define WSI_GEMM_X86 1
#endif

namespace wsi::cpu {
namespace {

#ifdef WSI_GEMM_X86
// f16 → f32 eight at a time with F16C (every AVX2 CPU has it); the portable loop is per element.
__attribute__((target("avx,f16c"))) void widen_f16c(const uint16_t* src, int64_t count, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < count; ++i) dst[i] = f16_to_f32(src[i]);
}

bool has_f16c() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  }();
  return yes;
}
#endif

float widen_one(const void* src, DType dtype, int64_t offset) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(src)[offset];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(src)[offset]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(src)[offset]);
    default: fail(ErrorCode::DTypeMismatch, "gemm: cannot read ", dtype_name(dtype), " as floating point");
  }
}

// A reusable f32 buffer per thread: packing runs inside the GEMM's tiles, which never nest.
float* scratch(int64_t count) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < size_t(count)) buffer.resize(size_t(count));
  return buffer.data();
}

}  // namespace

void widen(const void* src, DType dtype, int64_t offset, int64_t count, float* dst) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(dst, static_cast<const float*>(src) + offset, size_t(count) * sizeof(float));
      return;
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(src) + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(src) + offset;
#ifdef WSI_GEMM_X86
      if (has_f16c()) return widen_f16c(p, count, dst);
#endif
      for (int64_t i = 0; i < count; ++i) dst[i] = f16_to_f32(p[i]);
      return;
    }
    default:
      fail(ErrorCode::DTypeMismatch, "gemm: cannot read ", dtype_name(dtype), " as floating point");
  }
}

void narrow(const float* src, void* dst, DType dtype, int64_t offset, int64_t count) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(static_cast<float*>(dst) + offset, src, size_t(count) * sizeof(float));
      return;
    case DType::BF16: {
      uint16_t* p = static_cast<uint16_t*>(dst) + offset;
      for (int64_t i = 0; i < count; ++i) p[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::F16: {
      uint16_t* p = static_cast<uint16_t*>(dst) + offset;
      for (int64_t i = 0; i < count; ++i) p[i] = f32_to_f16(src[i]);
      return;
    }
    default:
      fail(ErrorCode::DTypeMismatch, "gemm: cannot write floating point into ", dtype_name(dtype));
  }
}

void pack_a_panel(const GemmInput& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, const MicroKernel& kernel,
                  float* dst) {
  const int64_t mr = kernel.mr;
  if (rows < mr) std::fill(dst, dst + kc * mr, 0.0f);
  if (a.row_stride == 1) {  // a column is contiguous: one run per k
    for (int64_t k = 0; k < kc; ++k) widen(a.data, a.dtype, i0 + (k0 + k) * a.col_stride, rows, dst + k * mr);
  } else if (a.col_stride == 1) {  // a row is contiguous: widen it, then spread it over the panel
    float* line = scratch(kc);
    for (int64_t i = 0; i < rows; ++i) {
      widen(a.data, a.dtype, (i0 + i) * a.row_stride + k0, kc, line);
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = line[k];
    }
  } else {
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t i = 0; i < rows; ++i) dst[k * mr + i] = widen_one(a.data, a.dtype, (i0 + i) * a.row_stride + (k0 + k) * a.col_stride);
  }
}

void pack_b_panel(const GemmInput& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, const MicroKernel& kernel,
                  float* dst) {
  const int64_t nr = kernel.nr;
  if (b.col_stride == 1) {  // a row is contiguous: one run per k
    for (int64_t k = 0; k < kc; ++k) {
      widen(b.data, b.dtype, (k0 + k) * b.row_stride + j0, cols, dst + k * nr);
      std::fill(dst + k * nr + cols, dst + (k + 1) * nr, 0.0f);
    }
  } else if (b.row_stride == 1) {
    // A column is contiguous (a linear layer's weight, (out, in)): transpose nr columns 8 × 8
    // into the panel, straight from b when it is f32 and fills the panel, else from `lines`, the
    // columns widened first (and zero past the edge).
    const float* lines;
    int64_t stride;
    if (b.dtype == DType::F32 && cols == nr) {
      lines = static_cast<const float*>(b.data) + j0 * b.col_stride + k0;
      stride = b.col_stride;
    } else {
      float* widened = scratch(nr * kc);
      for (int64_t j = 0; j < nr; ++j) {
        if (j < cols)
          widen(b.data, b.dtype, (j0 + j) * b.col_stride + k0, kc, widened + j * kc);
        else
          std::fill(widened + j * kc, widened + (j + 1) * kc, 0.0f);
      }
      lines = widened;
      stride = kc;
    }
    const int64_t whole = kc / 8 * 8;
    for (int64_t j = 0; j < nr; j += 8)
      for (int64_t k = 0; k < whole; k += 8) kernel.transpose8(lines + j * stride + k, stride, dst + k * nr + j, nr);
    for (int64_t k = whole; k < kc; ++k)
      for (int64_t j = 0; j < nr; ++j) dst[k * nr + j] = lines[j * stride + k];
  } else {
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = 0; j < nr; ++j)
        dst[k * nr + j] = j < cols ? widen_one(b.data, b.dtype, (k0 + k) * b.row_stride + (j0 + j) * b.col_stride) : 0.0f;
  }
}

}  // namespace wsi::cpu

#include "gemv.h"

#include <algorithm>
#include <vector>

#include "packing.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

constexpr int64_t kColumns = 64;  // columns of out per task

typedef float f32x16 __attribute__((vector_size(64)));

// On x86-64, compiled for AVX-512, AVX2 + FMA and the baseline; the loader picks one per machine.
#if defined(__x86_64__) || defined(_M_X64)
#define WSI_GEMV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
#else
#define WSI_GEMV_CLONES
#endif

// sums[i] = Σ_k a[i·lda + k] · b[k] for i < m (≤ kGemvMaxRows): b read once for every row of a.
WSI_GEMV_CLONES void dot_rows(
    const float* a, int64_t lda, int64_t m, const float* b, int64_t k, float* sums) {
  f32x16 acc[kGemvMaxRows] = {};
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    f32x16 bv, av;
    __builtin_memcpy(&bv, b + i, sizeof bv);  // unaligned loads
    for (int64_t r = 0; r < m; ++r) {
      __builtin_memcpy(&av, a + r * lda + i, sizeof av);
      acc[r] += av * bv;
    }
  }
  for (int64_t r = 0; r < m; ++r) {
    float sum = 0.0f;
    for (int l = 0; l < 16; ++l) sum += acc[r][l];
    for (int64_t j = i; j < k; ++j) sum += a[r * lda + j] * b[j];
    sums[r] = sum;
  }
}

}  // namespace

void finish_row(float* sums, int64_t cols, const GemmOutput& out, int64_t row, int64_t j0, const GemmEpilogue& e,
                float* old) {
  const int64_t at = row * out.row_stride + j0;
  for (int64_t j = 0; j < cols; ++j) sums[j] *= e.alpha;
  if (e.beta != 0.0f) {
    widen(out.data, out.dtype, at, cols, old);
    for (int64_t j = 0; j < cols; ++j) sums[j] += e.beta * old[j];
  }
  if (e.bias)
    for (int64_t j = 0; j < cols; ++j) sums[j] += e.bias[j0 + j];
  narrow(sums, out.data, out.dtype, at, cols);
}

void gemv(int64_t m, int64_t n, int64_t k, const GemmInput& a, const GemmInput& b, const GemmOutput& out,
          const GemmEpilogue& epilogue, bool parallel) {
  std::vector<float> rows(size_t(m * k));  // a's rows in f32, once
  for (int64_t i = 0; i < m; ++i) widen(a.data, a.dtype, i * a.row_stride, k, rows.data() + i * k);
  auto columns = [&](int64_t begin, int64_t end) {
    std::vector<float> line(b.dtype == DType::F32 ? 0 : size_t(k)), sums(kGemvMaxRows * kColumns), old(kColumns);
    for (int64_t block = begin; block < end; ++block) {
      const int64_t j0 = block * kColumns, cols = std::min(kColumns, n - j0);
      for (int64_t j = 0; j < cols; ++j) {
        const float* column = b.dtype == DType::F32 ? static_cast<const float*>(b.data) + (j0 + j) * b.col_stride : line.data();
        if (b.dtype != DType::F32) widen(b.data, b.dtype, (j0 + j) * b.col_stride, k, line.data());
        float dots[kGemvMaxRows];
        dot_rows(rows.data(), k, m, column, k, dots);
        for (int64_t i = 0; i < m; ++i) sums[size_t(i * kColumns + j)] = dots[i];
      }
      for (int64_t i = 0; i < m; ++i) finish_row(sums.data() + i * kColumns, cols, out, i, j0, epilogue, old.data());
    }
  };
  const int64_t blocks = (n + kColumns - 1) / kColumns;
  if (parallel && 2.0 * double(m) * double(n) * double(k) >= 1e6)
    parallel_for(blocks, 1, columns);
  else
    columns(0, blocks);
}

}  // namespace wsi::cpu

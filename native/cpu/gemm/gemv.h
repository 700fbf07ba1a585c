// The GEMM for a few rows of a against a b stored as rows along k (a linear layer's weight,
// (out, in)): generation's one token per sequence. Packing would copy and transpose the whole
// weight to use it once; here each output is a dot product of two contiguous rows instead,
// read once, in f32 vectors along k. The bits depend on the shape only, never on the threads.
#pragma once

#include <cstdint>

#include "gemm.h"

namespace wsi::cpu {

constexpr int64_t kGemvMaxRows = 4;

inline bool gemv_suits(int64_t m, const GemmInput& a, const GemmInput& b) {
  return m <= kGemvMaxRows && b.row_stride == 1 && a.col_stride == 1;
}

void gemv(int64_t m, int64_t n, int64_t k, const GemmInput& a, const GemmInput& b, const GemmOutput& out,
          const GemmEpilogue& epilogue, bool parallel);

// out row (cols wide, from column j0) = alpha · sums + beta · out + bias; shared with the GEMM.
void finish_row(float* sums, int64_t cols, const GemmOutput& out, int64_t row, int64_t j0, const GemmEpilogue& epilogue,
                float* old);

}  // namespace wsi::cpu

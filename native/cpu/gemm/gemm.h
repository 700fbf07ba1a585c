// The CPU backend's GEMM: out (m, n) = alpha · a (m, k) · b (k, n) + beta · out + bias (n), every
// operand in any floating dtype and any strides, accumulated in f32. The matmul op, attention,
// the fused cross-entropy and the projector and experts (through matmul) all run on it.
//
// Each output element is summed in an order fixed by the shape alone — one chain of fused
// multiply-adds over k in order (the packed kernels; AVX-512 and AVX2 give the same bits), or
// 16 lanes along k then across (a few rows against a weight, gemv.h) — whatever the blocking or
// the number of threads; alpha, beta and the bias are applied once after it. So results are
// bit-identical from run to run on one machine, which resuming a training run bit for bit
// relies on.
#pragma once

#include <cstdint>

#include "wsi/dtype.h"

namespace wsi::cpu {

// A matrix read by the GEMM: element (i, j) is data[i·row_stride + j·col_stride] (in elements).
struct GemmInput {
  const void* data;
  DType dtype;
  int64_t row_stride, col_stride;
};

// The matrix written: element (i, j) is data[i·row_stride + j].
struct GemmOutput {
  void* data;
  DType dtype;
  int64_t row_stride;
};

struct GemmEpilogue {
  float alpha = 1.0f, beta = 0.0f;  // out is read only when beta != 0
  const float* bias = nullptr;      // n values, or none
};

// Runs on the process-wide pool when `parallel` and the product is large enough; a caller that
// is itself one of many parallel tasks (one attention head) passes false.
void gemm(int64_t m, int64_t n, int64_t k, const GemmInput& a, const GemmInput& b, const GemmOutput& out,
          const GemmEpilogue& epilogue = {}, bool parallel = true);

}  // namespace wsi::cpu

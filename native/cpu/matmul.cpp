// out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N) + beta * out + bias (N), on the CPU.
//
// Both operands are brought to f32 rows once: a as (M, K), b as columns (N, K) — so every output
// element is a dot product of two contiguous rows. Threads take blocks of output columns; a
// block of b's columns stays in cache while every row of a passes over it. Dot products run
// four columns at a time in 8-wide vectors (AVX2 + FMA where the machine has it).
#include <algorithm>
#include <cstring>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

constexpr int64_t kColumnBlock = 16;  // 16 columns · K floats: 160 KB at K = 2560, within L2
constexpr int kLanes = 8;

// Eight floats as one value: GCC and Clang lower it to one AVX register, or two SSE ones.
typedef float f32x8 __attribute__((vector_size(32)));

// out[c] = x · y_c for the four rows y_0..y_3 of length k. Compiled twice, for AVX2 + FMA
// (Haswell and later) and for baseline x86-64; the loader picks one for the machine it runs on.
__attribute__((target_clones("arch=haswell", "default"))) void dot4(const float* x, const float* y0,
                                                                      const float* y1, const float* y2,
                                                                      const float* y3, int64_t k, float out[4]) {
  const float* ys[4] = {y0, y1, y2, y3};
  f32x8 acc[4] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    f32x8 xv, yv;
    std::memcpy(&xv, x + i, sizeof xv);  // unaligned loads
    for (int c = 0; c < 4; ++c) {
      std::memcpy(&yv, ys[c] + i, sizeof yv);
      acc[c] += xv * yv;
    }
  }
  for (int c = 0; c < 4; ++c) {
    float sum = 0.0f;
    for (int l = 0; l < kLanes; ++l) sum += acc[c][l];
    for (int64_t j = i; j < k; ++j) sum += x[j] * ys[c][j];
    out[c] = sum;
  }
}

// The (rows, cols) matrix that `t` holds transposed, i.e. stored as (cols, rows), as f32 rows.
std::vector<float> transposed_f32(const Tensor& t, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(rows * cols)), line(static_cast<size_t>(rows));
  for (int64_t c = 0; c < cols; ++c) {
    load_f32(t, c * rows, rows, line.data());
    for (int64_t r = 0; r < rows; ++r) out[size_t(r * cols + c)] = line[size_t(r)];
  }
  return out;
}

// `t` as f32 rows: the tensor's own memory when it already is f32, else a converted copy.
const float* f32_rows(const Tensor& t, int64_t count, std::vector<float>& storage) {
  if (t.dtype == DType::F32) return t.as<float>();
  storage.resize(size_t(count));
  load_f32(t, 0, count, storage.data());
  return storage.data();
}

}  // namespace

void matmul(const MatmulArgs& args, const ExecContext&) {
  const int64_t m = args.m(), n = args.n(), k = args.k();
  if (m == 0 || n == 0) return;

  std::vector<float> a_storage, b_storage;
  if (args.trans_a) a_storage = transposed_f32(args.a, m, k);
  if (!args.trans_b) b_storage = transposed_f32(args.b, n, k);
  const float* a = args.trans_a ? a_storage.data() : f32_rows(args.a, m * k, a_storage);  // (M, K)
  const float* bt = args.trans_b ? f32_rows(args.b, n * k, b_storage) : b_storage.data();  // (N, K)

  std::vector<float> bias(args.bias.defined() ? size_t(n) : 0);
  if (args.bias.defined()) load_f32(args.bias, 0, n, bias.data());

  const int64_t blocks = (n + kColumnBlock - 1) / kColumnBlock;
  parallel_for(blocks, 1, [&](int64_t first_block, int64_t end_block) {
    float segment[kColumnBlock];
    for (int64_t blk = first_block; blk < end_block; ++blk) {
      const int64_t j0 = blk * kColumnBlock, width = std::min(kColumnBlock, n - j0);
      for (int64_t i = 0; i < m; ++i) {
        const float* row = a + i * k;
        for (int64_t j = 0; j < width; j += 4) {
          // Past the last column, repeat it: the extra results are dropped below.
          const float* col[4];
          for (int c = 0; c < 4; ++c) col[c] = bt + (j0 + std::min(j + c, width - 1)) * k;
          float dots[4];
          dot4(row, col[0], col[1], col[2], col[3], k, dots);
          for (int c = 0; c < 4 && j + c < width; ++c) segment[j + c] = args.alpha * dots[c];
        }
        if (args.beta != 0.0f) {  // out is read only when it is accumulated into
          float previous[kColumnBlock];
          load_f32(args.out, i * n + j0, width, previous);
          for (int64_t j = 0; j < width; ++j) segment[j] += args.beta * previous[j];
        }
        if (!bias.empty())
          for (int64_t j = 0; j < width; ++j) segment[j] += bias[size_t(j0 + j)];
        store_f32(segment, args.out, i * n + j0, width);
      }
    }
  });
}

}  // namespace wsi::cpu

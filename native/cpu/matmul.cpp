// out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N) + beta * out + bias (N), on the CPU.
//
// b is packed once into f32 columns (N, K), so every output element is a dot product of two
// contiguous f32 rows; rows of the output are spread over the thread pool. The inner loop keeps
// eight partial sums, which the compiler turns into vector code without -ffast-math.
#include <algorithm>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

inline float dot(const float* x, const float* y, int64_t k) {
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= k; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += x[i + l] * y[i + l];
  float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; i < k; ++i) sum += x[i] * y[i];
  return sum;
}

// Copies a (rows, cols) matrix stored transposed, i.e. as (cols, rows), into f32 (rows, cols).
void pack_transposed(const Tensor& t, int64_t rows, int64_t cols, float* dst) {
  std::vector<float> line(static_cast<size_t>(rows));
  for (int64_t c = 0; c < cols; ++c) {
    load_f32(t, c * rows, rows, line.data());
    for (int64_t r = 0; r < rows; ++r) dst[r * cols + c] = line[size_t(r)];
  }
}

}  // namespace

void matmul(const MatmulArgs& args, const ExecContext&) {
  const int64_t m = args.m(), n = args.n(), k = args.k();

  // b as f32 columns: column j of op(b) is bt[j*k .. j*k+k).
  std::vector<float> bt(static_cast<size_t>(n * k));
  if (args.trans_b)
    load_f32(args.b, 0, n * k, bt.data());
  else
    pack_transposed(args.b, n, k, bt.data());

  // a as f32 rows, when it is not already.
  std::vector<float> a_packed;
  if (args.trans_a) {
    a_packed.resize(size_t(m * k));
    pack_transposed(args.a, m, k, a_packed.data());
  }

  std::vector<float> bias(args.bias.defined() ? size_t(n) : 0);
  if (args.bias.defined()) load_f32(args.bias, 0, n, bias.data());

  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, n * k));
  parallel_for(m, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> a_row(static_cast<size_t>(k)), out_row(static_cast<size_t>(n));
    for (int64_t i = begin; i < end; ++i) {
      const float* a = a_packed.empty() ? nullptr : a_packed.data() + i * k;
      if (!a) {
        load_f32(args.a, i * k, k, a_row.data());
        a = a_row.data();
      }
      if (args.beta != 0.0f) load_f32(args.out, i * n, n, out_row.data());
      for (int64_t j = 0; j < n; ++j) {
        float value = args.alpha * dot(a, bt.data() + j * k, k);
        if (args.beta != 0.0f) value += args.beta * out_row[size_t(j)];
        if (!bias.empty()) value += bias[size_t(j)];
        out_row[size_t(j)] = value;
      }
      store_f32(out_row.data(), args.out, i * n, n);
    }
  });
}

}  // namespace wsi::cpu

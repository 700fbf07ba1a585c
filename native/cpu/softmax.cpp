// Softmax over the last dimension and its backward, row by row in f32. A row that is −∞
// throughout (fully masked) gives 0, not NaN.
#include <algorithm>
#include <cmath>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {

void softmax(const SoftmaxArgs& args, const ExecContext&) {
  const int64_t rows = args.x.rows(), cols = args.x.dim(-1);
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = begin; r < end; ++r) {
      load_f32(args.x, r * cols, cols, row.data());
      const float max = *std::max_element(row.begin(), row.end());
      if (max == -INFINITY) {  // every entry masked: no probability anywhere, not 0/0
        std::fill(row.begin(), row.end(), 0.0f);
        store_f32(row.data(), args.out, r * cols, cols);
        continue;
      }
      float sum = 0.0f;
      for (float& v : row) sum += (v = std::exp(v - max));
      for (float& v : row) v /= sum;
      store_f32(row.data(), args.out, r * cols, cols);
    }
  });
}

void softmax_backward(const SoftmaxBackwardArgs& args, const ExecContext&) {
  const int64_t rows = args.y.rows(), cols = args.y.dim(-1);
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> y(static_cast<size_t>(cols)), dy(static_cast<size_t>(cols));
    for (int64_t r = begin; r < end; ++r) {
      load_f32(args.y, r * cols, cols, y.data());
      load_f32(args.dy, r * cols, cols, dy.data());
      float dot = 0.0f;
      for (int64_t c = 0; c < cols; ++c) dot += y[size_t(c)] * dy[size_t(c)];
      for (int64_t c = 0; c < cols; ++c) dy[size_t(c)] = y[size_t(c)] * (dy[size_t(c)] - dot);
      store_f32(dy.data(), args.dx, r * cols, cols);
    }
  });
}

}  // namespace wsi::cpu

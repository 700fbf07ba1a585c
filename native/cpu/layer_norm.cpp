// LayerNorm over the last dimension and its backward, row by row in f32.
//   forward:  xhat = (x − mean)·rstd, out = xhat·weight + bias
//   backward: dxhat = dy·weight; dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)) (=);
//             dweight += Σ_rows dy·xhat, dbias += Σ_rows dy
#include <cmath>
#include <algorithm>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {

void layer_norm(const LayerNormArgs& args, const ExecContext&) {
  const int64_t rows = args.x.rows(), c = args.x.dim(-1);
  std::vector<float> weight(static_cast<size_t>(c)), bias(static_cast<size_t>(c));
  load_f32(args.weight, 0, c, weight.data());
  load_f32(args.bias, 0, c, bias.data());
  float* mean_out = args.mean.as<float>();
  float* rstd_out = args.rstd.as<float>();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(c, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(c));
    for (int64_t r = begin; r < end; ++r) {
      load_f32(args.x, r * c, c, row.data());
      double sum = 0.0;
      for (float v : row) sum += v;
      const float mean = float(sum / double(c));
      double var = 0.0;
      for (float v : row) var += double(v - mean) * double(v - mean);
      const float rstd = 1.0f / std::sqrt(float(var / double(c)) + args.eps);
      for (int64_t i = 0; i < c; ++i) row[size_t(i)] = (row[size_t(i)] - mean) * rstd * weight[size_t(i)] + bias[size_t(i)];
      store_f32(row.data(), args.out, r * c, c);
      mean_out[r] = mean;
      rstd_out[r] = rstd;
    }
  });
}

// The weight and bias gradients are summed per fixed block of rows and the blocks added in order,
// so they are the same bits whatever the thread timing (a resumed run must match exactly).
void layer_norm_backward(const LayerNormBackwardArgs& args, const ExecContext&) {
  const int64_t rows = args.x.rows(), c = args.x.dim(-1);
  const int64_t block = std::max<int64_t>(1, 16384 / std::max<int64_t>(c, 1)), blocks = (rows + block - 1) / block;
  std::vector<float> weight(static_cast<size_t>(c));
  load_f32(args.weight, 0, c, weight.data());
  const float* mean = args.mean.as<float>();
  const float* rstd = args.rstd.as<float>();
  std::vector<double> dweight(size_t(blocks * c), 0.0), dbias(size_t(blocks * c), 0.0);
  parallel_for(blocks, 1, [&](int64_t first_block, int64_t last_block) {
    std::vector<float> x(static_cast<size_t>(c)), dy(static_cast<size_t>(c));
    for (int64_t b = first_block; b < last_block; ++b) {
      double* dw = dweight.data() + b * c;
      double* db = dbias.data() + b * c;
      for (int64_t r = b * block; r < std::min(rows, (b + 1) * block); ++r) {
        load_f32(args.x, r * c, c, x.data());
        load_f32(args.dy, r * c, c, dy.data());
        double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
        for (int64_t i = 0; i < c; ++i) {
          const size_t j = size_t(i);
          const float xhat = (x[j] - mean[r]) * rstd[r];
          const float dxhat = dy[j] * weight[j];
          sum_dxhat += dxhat;
          sum_dxhat_xhat += double(dxhat) * xhat;
          dw[j] += double(dy[j]) * xhat;
          db[j] += dy[j];
          x[j] = xhat;  // x now holds xhat
        }
        const float m1 = float(sum_dxhat / double(c)), m2 = float(sum_dxhat_xhat / double(c));
        for (int64_t i = 0; i < c; ++i) {
          const size_t j = size_t(i);
          dy[j] = rstd[r] * (dy[j] * weight[j] - m1 - x[j] * m2);
        }
        store_f32(dy.data(), args.dx, r * c, c);
      }
    }
  });
  std::vector<float> acc(static_cast<size_t>(c));
  for (const auto& [sums, out] : {std::pair{&dweight, &args.dweight}, {&dbias, &args.dbias}}) {
    load_f32(*out, 0, c, acc.data());
    for (int64_t j = 0; j < c; ++j) {
      double total = 0.0;
      for (int64_t b = 0; b < blocks; ++b) total += (*sums)[size_t(b * c + j)];
      acc[size_t(j)] += float(total);
    }
    store_f32(acc.data(), *out, 0, c);
  }
}

}  // namespace wsi::cpu

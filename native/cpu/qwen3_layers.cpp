// RMSNorm, rotary embedding and SwiGLU on the CPU, in f32 (wsi/ops/qwen3.h), row by row over the
// thread pool.
#include <cmath>
#include <algorithm>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/qwen3_math.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {
constexpr int64_t kGrain = 16384;  // elements per task

int64_t rows_per_task(int64_t width) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(width, 1)); }
}  // namespace

void rms_norm(const RmsNormArgs& args, const ExecContext&) {
  const int64_t rows = args.x.rows(), d = args.x.dim(-1);
  std::vector<float> weight(static_cast<size_t>(d));
  load_f32(args.weight, 0, d, weight.data());
  float* rstd_out = args.rstd.as<float>();
  parallel_for(rows, rows_per_task(d), [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(d));
    for (int64_t r = begin; r < end; ++r) {
      load_f32(args.x, r * d, d, row.data());
      double squares = 0.0;
      for (float v : row) squares += double(v) * v;
      const float rstd = 1.0f / std::sqrt(float(squares / double(d)) + args.eps);
      for (int64_t i = 0; i < d; ++i) row[size_t(i)] = row[size_t(i)] * rstd * weight[size_t(i)];
      store_f32(row.data(), args.out, r * d, d);
      rstd_out[r] = rstd;
    }
  });
}

// The weight gradient is summed per fixed block of rows and the blocks added in order, so it is
// the same bits whatever the thread timing.
void rms_norm_backward(const RmsNormBackwardArgs& args, const ExecContext&) {
  const int64_t rows = args.x.rows(), d = args.x.dim(-1), block = rows_per_task(d);
  const int64_t blocks = (rows + block - 1) / block;
  std::vector<float> weight(static_cast<size_t>(d));
  load_f32(args.weight, 0, d, weight.data());
  const float* rstd = args.rstd.as<float>();
  const bool want_dweight = args.dweight.defined();
  std::vector<double> partial(want_dweight ? size_t(blocks * d) : 0, 0.0);
  parallel_for(blocks, 1, [&](int64_t first_block, int64_t last_block) {
    std::vector<float> x(static_cast<size_t>(d)), dy(static_cast<size_t>(d));
    for (int64_t b = first_block; b < last_block; ++b) {
      double* dw = want_dweight ? partial.data() + b * d : nullptr;
      for (int64_t r = b * block; r < std::min(rows, (b + 1) * block); ++r) {
        load_f32(args.x, r * d, d, x.data());
        load_f32(args.dy, r * d, d, dy.data());
        double dot = 0.0;  // Σ g·xhat
        for (size_t j = 0; j < size_t(d); ++j) {
          const float xhat = x[j] * rstd[r];
          dot += double(dy[j]) * weight[j] * xhat;
          if (dw) dw[j] += double(dy[j]) * xhat;
          x[j] = xhat;
        }
        const float mean_dot = float(dot / double(d));
        for (size_t j = 0; j < size_t(d); ++j) dy[j] = rstd[r] * (dy[j] * weight[j] - x[j] * mean_dot);
        store_f32(dy.data(), args.dx, r * d, d);
      }
    }
  });
  if (!want_dweight) return;
  float* out = args.dweight.as<float>();
  for (int64_t j = 0; j < d; ++j) {
    double sum = 0.0;
    for (int64_t b = 0; b < blocks; ++b) sum += partial[size_t(b * d + j)];
    out[j] += float(sum);
  }
}

void rope(const RopeArgs& args, const ExecContext&) {
  const int64_t batch = args.x.dim(0), tokens = args.x.dim(1), heads = args.x.dim(2), d = args.x.dim(3), half = d / 2;
  const int32_t* positions = args.positions.as<int32_t>();
  const float sign = args.inverse ? -1.0f : 1.0f;
  parallel_for(batch * tokens, rows_per_task(heads * d), [&](int64_t begin, int64_t end) {
    std::vector<float> cos(static_cast<size_t>(half)), sin(static_cast<size_t>(half)), row(static_cast<size_t>(d));
    for (int64_t bt = begin; bt < end; ++bt) {
      for (int64_t i = 0; i < half; ++i) {
        const float angle = rope_angle(positions[bt], i, d, args.theta);
        cos[size_t(i)] = std::cos(angle);
        sin[size_t(i)] = sign * std::sin(angle);
      }
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t offset = (bt * heads + h) * d;
        load_f32(args.x, offset, d, row.data());
        for (size_t i = 0; i < size_t(half); ++i) {
          const float a = row[i], b = row[i + size_t(half)];
          row[i] = a * cos[i] - b * sin[i];
          row[i + size_t(half)] = b * cos[i] + a * sin[i];
        }
        store_f32(row.data(), args.out, offset, d);
      }
    }
  });
}

void swiglu(const SwigluArgs& args, const ExecContext&) {
  parallel_for(args.gate.numel(), kGrain, [&](int64_t begin, int64_t end) {
    const size_t n = size_t(end - begin);
    std::vector<float> gate(n), up(n);
    load_f32(args.gate, begin, end - begin, gate.data());
    load_f32(args.up, begin, end - begin, up.data());
    for (size_t i = 0; i < n; ++i) gate[i] = silu(gate[i]) * up[i];
    store_f32(gate.data(), args.out, begin, end - begin);
  });
}

void swiglu_backward(const SwigluBackwardArgs& args, const ExecContext&) {
  parallel_for(args.gate.numel(), kGrain, [&](int64_t begin, int64_t end) {
    const size_t n = size_t(end - begin);
    std::vector<float> gate(n), up(n), dy(n);
    load_f32(args.gate, begin, end - begin, gate.data());
    load_f32(args.up, begin, end - begin, up.data());
    load_f32(args.dy, begin, end - begin, dy.data());
    for (size_t i = 0; i < n; ++i) {
      const float g = gate[i];
      gate[i] = dy[i] * up[i] * silu_grad(g);  // dgate
      up[i] = dy[i] * silu(g);                 // dup
    }
    store_f32(gate.data(), args.dgate, begin, end - begin);
    store_f32(up.data(), args.dup, begin, end - begin);
  });
}

}  // namespace wsi::cpu

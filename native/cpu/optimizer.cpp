// The optimizer's ops on the CPU (wsi/ops/qwen3.h): a fused AdamW step, a sum of squares, fill.
#include <cmath>
#include <algorithm>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {
constexpr int64_t kGrain = 16384;
}

void adamw(const AdamwArgs& args, const ExecContext&) {
  const float correction1 = float(1.0 - std::pow(double(args.beta1), double(args.step)));
  const float correction2 = float(1.0 - std::pow(double(args.beta2), double(args.step)));
  const bool has_master = args.master.defined();
  float* m = args.m.as<float>();
  float* v = args.v.as<float>();
  float* p = has_master ? args.master.as<float>() : args.param.as<float>();
  parallel_for(args.param.numel(), kGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> g(static_cast<size_t>(end - begin));
    load_f32(args.grad, begin, end - begin, g.data());
    for (int64_t i = begin; i < end; ++i) {
      const float grad = args.grad_scale * g[size_t(i - begin)];
      m[i] = args.beta1 * m[i] + (1.0f - args.beta1) * grad;
      v[i] = args.beta2 * v[i] + (1.0f - args.beta2) * grad * grad;
      const float update = (m[i] / correction1) / (std::sqrt(v[i] / correction2) + args.eps);
      p[i] = p[i] - args.lr * args.weight_decay * p[i] - args.lr * update;
    }
    if (has_master) store_f32(p + begin, args.param, begin, end - begin);
  });
}

// Partial sums per fixed chunk, added in chunk order: the same bits whatever the thread timing
// (a resumed run must clip exactly as the uninterrupted one did).
void sum_squares(const SumSquaresArgs& args, const ExecContext&) {
  const int64_t n = args.x.numel(), chunks = (n + kGrain - 1) / kGrain;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> x(static_cast<size_t>(kGrain));
    for (int64_t c = begin; c < end; ++c) {
      const int64_t first = c * kGrain, count = std::min(kGrain, n - first);
      load_f32(args.x, first, count, x.data());
      double sum = 0.0;
      for (int64_t i = 0; i < count; ++i) sum += double(x[size_t(i)]) * x[size_t(i)];
      partial[size_t(c)] = sum;
    }
  });
  double total = 0.0;
  for (double sum : partial) total += sum;
  args.out.as<float>()[0] += float(total);
}

void fill(const FillArgs& args, const ExecContext&) {
  parallel_for(args.out.numel(), kGrain, [&](int64_t begin, int64_t end) {
    const std::vector<float> values(static_cast<size_t>(end - begin), args.value);
    store_f32(values.data(), args.out, begin, end - begin);
  });
}

}  // namespace wsi::cpu

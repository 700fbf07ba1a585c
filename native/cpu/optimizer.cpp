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

struct AdamwStep {
  float grad_scale, beta1, beta2, eps, lr, decay, correction1, correction2;
};

// One span of the update, its arguments by value and its arrays restrict, so that it runs in
// vector registers (with -fno-math-errno, sqrt vectorises).
void adamw_span(AdamwStep s, int64_t count, const float* __restrict grad, float* __restrict m, float* __restrict v,
                float* __restrict p) {
  for (int64_t i = 0; i < count; ++i) {
    const float g = s.grad_scale * grad[i];
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * g;
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;
    const float update = (m[i] / s.correction1) / (std::sqrt(v[i] / s.correction2) + s.eps);
    p[i] = p[i] - s.decay * p[i] - s.lr * update;
  }
}

// Σ x[i]² in double, element i into lane i mod 8 and the lanes added in order at the end: a
// fixed order that runs in vector registers.
double sum_of_squares(const float* __restrict x, int64_t count) {
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lanes[k] += double(x[i + k]) * double(x[i + k]);
  for (; i < count; ++i) lanes[i % kLanes] += double(x[i]) * double(x[i]);
  double sum = 0.0;
  for (double lane : lanes) sum += lane;
  return sum;
}

}  // namespace

void adamw(const AdamwArgs& args, const ExecContext&) {
  const AdamwStep step{args.grad_scale, args.beta1, args.beta2, args.eps, args.lr, args.lr * args.weight_decay,
                       float(1.0 - std::pow(double(args.beta1), double(args.step))),
                       float(1.0 - std::pow(double(args.beta2), double(args.step)))};
  const bool has_master = args.master.defined();
  float* m = args.m.as<float>();
  float* v = args.v.as<float>();
  float* p = has_master ? args.master.as<float>() : args.param.as<float>();
  parallel_for(args.param.numel(), kGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> g(static_cast<size_t>(end - begin));
    load_f32(args.grad, begin, end - begin, g.data());
    adamw_span(step, end - begin, g.data(), m + begin, v + begin, p + begin);
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
      partial[size_t(c)] = sum_of_squares(x.data(), count);
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

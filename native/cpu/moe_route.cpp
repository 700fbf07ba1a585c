// MoE gate routing on the CPU: noisy softmax over K slots, top-k weights, the Switch
// load-balancing loss; and its backward to the logits. Shapes and math: wsi/ops/moe.h.
// The per-slot sums are taken over fixed blocks of patches, then the blocks in order, so they
// have the same bits whatever the number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/counter_rng.h"
#include "wsi/moe_math.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {

namespace {
constexpr int64_t kRouteBlock = 1024;  // patches per partial sum
}  // namespace

void moe_route(const MoeRouteArgs& args, const ExecContext&) {
  const int64_t n = args.logits.dim(0), k = args.logits.dim(1);
  float* probs = args.probs.as<float>();
  float* weights = args.weights.as<float>();
  const int64_t blocks = (n + kRouteBlock - 1) / kRouteBlock;
  // Per block: k chosen-counts then k probability sums; and the first non-finite row (n if none).
  std::vector<double> partial(size_t(blocks * 2 * k), 0.0);
  std::vector<int64_t> bad_row(size_t(blocks), n);
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      double* load = partial.data() + b * 2 * k;
      double* prob = load + k;
      for (int64_t r = b * kRouteBlock; r < std::min(n, (b + 1) * kRouteBlock); ++r) {
        float* p = probs + r * k;
        load_f32(args.logits, r * k, k, p);
        bool finite = true;
        for (int64_t j = 0; j < k; ++j) finite = finite && std::isfinite(p[j]);
        if (!finite) {
          bad_row[size_t(b)] = r;
          break;
        }
        if (args.noise > 0.0f)
          for (int64_t j = 0; j < k; ++j) p[j] += args.noise * counter_normal(uint64_t(args.seed), uint64_t(r * k + j));
        float max = p[0];
        for (int64_t j = 1; j < k; ++j) max = std::max(max, p[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < k; ++j) sum += (p[j] = std::exp(p[j] - max));
        for (int64_t j = 0; j < k; ++j) p[j] /= sum;
        for (int64_t j = 0; j < k; ++j) {
          const bool chosen = in_top_k(p, k, j, args.top_k);
          weights[r * k + j] = chosen ? p[j] : 0.0f;
          load[j] += chosen;
          prob[j] += p[j];
        }
      }
    }
  });
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r = bad_row[size_t(b)];
    if (r == n) continue;
    std::vector<float> row(static_cast<size_t>(k));
    load_f32(args.logits, r * k, k, row.data());
    int64_t j = 0;
    while (j + 1 < k && std::isfinite(row[size_t(j)])) ++j;
    non_finite_gate_error(r, j, row[size_t(j)], args.offsets.defined() ? args.offsets.as<int32_t>() : nullptr,
                          args.offsets.defined() ? args.offsets.dim(0) - 1 : 0);
  }
  double aux = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    double load = 0.0, prob = 0.0;
    for (int64_t b = 0; b < blocks; ++b) {
      load += partial[size_t(b * 2 * k + j)];
      prob += partial[size_t(b * 2 * k + k + j)];
    }
    const float f = float(load / double(n * args.top_k)), pm = float(prob / double(n));
    args.slot_load.as<float>()[j] = f;
    args.slot_prob.as<float>()[j] = pm;
    aux += double(f) * pm;
  }
  args.aux_loss.as<float>()[0] = float(double(k) * aux);
}

void moe_route_backward(const MoeRouteBackwardArgs& args, const ExecContext&) {
  const int64_t n = args.probs.dim(0), k = args.probs.dim(1);
  const float* probs = args.probs.as<float>();
  const float* load = args.slot_load.as<float>();
  const float aux_scale = args.aux_grad * float(k) / float(n);
  parallel_for(n, std::max<int64_t>(1, 4096 / k), [&](int64_t begin, int64_t end) {
    std::vector<float> dp(static_cast<size_t>(k));
    for (int64_t r = begin; r < end; ++r) {
      const float* p = probs + r * k;
      load_f32(args.dweights, r * k, k, dp.data());
      float dot = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        float& g = dp[size_t(j)];
        g = (in_top_k(p, k, j, args.top_k) ? g : 0.0f) + aux_scale * load[j];
        dot += p[j] * g;
      }
      for (int64_t j = 0; j < k; ++j) dp[size_t(j)] = p[j] * (dp[size_t(j)] - dot);
      store_f32(dp.data(), args.dlogits, r * k, k);
    }
  });
}

}  // namespace wsi::cpu

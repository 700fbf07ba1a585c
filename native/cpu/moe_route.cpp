// MoE gate routing on the CPU: noisy softmax over K slots, top-k weights, the Switch
// load-balancing loss; and its backward to the logits. Shapes and math: wsi/ops/moe.h.
#include <cmath>
#include <mutex>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/counter_rng.h"
#include "wsi/moe_math.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {

void moe_route(const MoeRouteArgs& args, const ExecContext&) {
  const int64_t n = args.logits.dim(0), k = args.logits.dim(1);
  float* probs = args.probs.as<float>();
  float* weights = args.weights.as<float>();
  std::vector<double> load(size_t(k), 0.0), prob(size_t(k), 0.0);
  std::mutex merge;
  parallel_for(n, std::max<int64_t>(1, 4096 / k), [&](int64_t begin, int64_t end) {
    std::vector<double> my_load(size_t(k), 0.0), my_prob(size_t(k), 0.0);
    for (int64_t r = begin; r < end; ++r) {
      float* p = probs + r * k;
      load_f32(args.logits, r * k, k, p);
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
        my_load[size_t(j)] += chosen;
        my_prob[size_t(j)] += p[j];
      }
    }
    std::lock_guard<std::mutex> lock(merge);
    for (size_t j = 0; j < size_t(k); ++j) {
      load[j] += my_load[j];
      prob[j] += my_prob[j];
    }
  });
  double aux = 0.0;
  for (size_t j = 0; j < size_t(k); ++j) {
    const float f = float(load[j] / double(n * args.top_k)), pm = float(prob[j] / double(n));
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

// Inverted dropout with a counter-based mask: element i is kept when u(seed, i) > p, and scaled
// by 1/(1 − p). The same call on dy is the backward.
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/counter_rng.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {

void dropout(const DropoutArgs& args, const ExecContext&) {
  const float keep_scale = 1.0f / (1.0f - args.p);
  const uint64_t seed = uint64_t(args.seed);
  parallel_for(args.x.numel(), 16384, [&](int64_t begin, int64_t end) {
    std::vector<float> v(static_cast<size_t>(end - begin));
    load_f32(args.x, begin, end - begin, v.data());
    for (int64_t i = begin; i < end; ++i) {
      float& x = v[size_t(i - begin)];
      x = counter_uniform(seed, uint64_t(i)) > args.p ? x * keep_scale : 0.0f;
    }
    store_f32(v.data(), args.out, begin, end - begin);
  });
}

}  // namespace wsi::cpu

// GELU (erf form) and its backward elementwise, and the projector's fused linear + bias + GELU
// (on the CPU: the matmul op, then GELU over its rows), all in f32.
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/gelu_math.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {
constexpr int64_t kGrain = 16384;  // elements per task: enough work to cover the handoff
}

void gelu(const GeluArgs& args, const ExecContext&) {
  parallel_for(args.x.numel(), kGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> v(static_cast<size_t>(end - begin));
    load_f32(args.x, begin, end - begin, v.data());
    for (float& x : v) x = gelu_erf(x);
    store_f32(v.data(), args.out, begin, end - begin);
  });
}

void gelu_backward(const GeluBackwardArgs& args, const ExecContext&) {
  parallel_for(args.x.numel(), kGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> x(static_cast<size_t>(end - begin)), dy(static_cast<size_t>(end - begin));
    load_f32(args.x, begin, end - begin, x.data());
    load_f32(args.dy, begin, end - begin, dy.data());
    for (size_t i = 0; i < x.size(); ++i) dy[i] *= gelu_erf_grad(x[i]);
    store_f32(dy.data(), args.dx, begin, end - begin);
  });
}

void matmul_bias_gelu(const MatmulBiasGeluArgs& args, const ExecContext& ctx) {
  // pre = a·weightᵀ + bias, in `pre` when kept, else straight in `out`; then out = gelu(pre).
  const Tensor& pre = args.pre.defined() ? args.pre : args.out;
  MatmulArgs linear;
  linear.out = pre;
  linear.a = args.a;
  linear.b = args.weight;
  linear.bias = args.bias;
  linear.trans_b = true;
  matmul(linear, ctx);
  GeluArgs act;
  act.out = args.out;
  act.x = pre;
  gelu(act, ctx);
}

}  // namespace wsi::cpu

// out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N) + beta * out + bias (N), on the CPU: the
// packed GEMM of gemm/gemm.h, with a transpose given to it as strides (nothing is copied).
#include <vector>

#include "convert.h"
#include "gemm/gemm.h"
#include "ops.h"

namespace wsi::cpu {

void matmul(const MatmulArgs& args, const ExecContext&) {
  const int64_t m = args.m(), n = args.n(), k = args.k();
  if (m == 0 || n == 0) return;
  // a is (M, K) row-major, or (K, M) with trans_a; b is (K, N), or (N, K) with trans_b.
  const GemmInput a{args.a.data, args.a.dtype, args.trans_a ? 1 : k, args.trans_a ? m : 1};
  const GemmInput b{args.b.data, args.b.dtype, args.trans_b ? 1 : n, args.trans_b ? k : 1};
  std::vector<float> bias(args.bias.defined() ? size_t(n) : 0);
  if (args.bias.defined()) load_f32(args.bias, 0, n, bias.data());
  GemmEpilogue epilogue;
  epilogue.alpha = args.alpha;
  epilogue.beta = args.beta;
  epilogue.bias = bias.empty() ? nullptr : bias.data();
  gemm(m, n, k, a, b, GemmOutput{args.out.data, args.out.dtype, n}, epilogue);
}

}  // namespace wsi::cpu

// Inverted dropout with a counter-based mask (wsi/counter_rng.h), the same on every backend:
//   out[i] = u(seed, i) > p ? x[i] / (1 − p) : 0     (x, out: any shape; the backward is this op on dy)
#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "wsi/counter_rng.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void dropout_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, int64_t n, float p,
                               uint64_t seed) {
  const float keep_scale = 1.0f / (1.0f - p);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = load_f32(x, x_dtype, i);
    store_f32(out, out_dtype, i, counter_uniform(seed, uint64_t(i)) > p ? v * keep_scale : 0.0f);
  }
}

}  // namespace

void dropout(const DropoutArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.numel();
  if (n == 0) return;
  dropout_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data,
                                                                   args.x.dtype, n, args.p, uint64_t(args.seed));
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

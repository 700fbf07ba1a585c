// The optimizer's ops on the GPU (wsi/ops/qwen3.h):
//   adamw        one thread per element, grid-stride: m, v and the f32 weight (master or param)
//                updated in registers, the param rounded to its dtype when a master is kept
//   sum_squares  grid-stride partial sums over a grid whose size depends on n only, a block
//                reduction per block, then one block adds the blocks' sums in order into out:
//                the same bits on every run (WSI_VQA_CUDA_SUMS=atomic: one atomicAdd per block)
//   fill         grid-stride
#include <cmath>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "stream_buffer.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

struct AdamwStep {
  float lr, beta1, beta2, eps, weight_decay, grad_scale, correction1, correction2;
};

__global__ void adamw_kernel(void* param, DType param_dtype, float* master, float* m, float* v, const void* grad,
                             DType grad_dtype, AdamwStep s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = s.grad_scale * load_f32(grad, grad_dtype, i);
    const float mi = s.beta1 * m[i] + (1.0f - s.beta1) * g;
    const float vi = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = master ? master[i] : static_cast<float*>(param)[i];
    const float updated = p - s.lr * s.weight_decay * p - s.lr * (mi / s.correction1) / (sqrtf(vi / s.correction2) + s.eps);
    if (master) master[i] = updated;
    store_f32(param, param_dtype, i, updated);
  }
}

// Each block's sum of squares: into partial[blockIdx.x], or added atomically into out[0] when
// partial is null.
__global__ void sum_squares_kernel(float* partial, float* out, const void* x, DType x_dtype, int64_t n) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float value = load_f32(x, x_dtype, i);
    sum += value * value;
  }
  sum = block_sum(sum, scratch);
  if (threadIdx.x != 0) return;
  if (partial) partial[blockIdx.x] = sum;
  else atomicAdd(out, sum);
}

// out[0] += the `count` partial sums, by one block in a fixed order.
__global__ void add_partials_kernel(float* out, const float* partial, int count) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) out[0] += sum;
}

__global__ void fill_kernel(void* out, DType dtype, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, dtype, i, value);
}

}  // namespace

void adamw(const AdamwArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.param.numel();
  if (n == 0) return;
  const AdamwStep step{args.lr, args.beta1, args.beta2, args.eps, args.weight_decay, args.grad_scale,
                       float(1.0 - std::pow(double(args.beta1), double(args.step))),
                       float(1.0 - std::pow(double(args.beta2), double(args.step)))};
  adamw_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
      args.param.data, args.param.dtype, args.master.defined() ? args.master.as<float>() : nullptr, args.m.as<float>(),
      args.v.as<float>(), args.grad.data, args.grad.dtype, step, n);
  WSI_CUDA_CHECK_LAUNCH();
}

void sum_squares(const SumSquaresArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.numel();
  if (n == 0) return;
  const unsigned blocks = std::min(blocks_for(n, kThreads), 1024u);
  if (atomic_sums()) {
    sum_squares_kernel<<<blocks, kThreads, 0, stream>>>(nullptr, args.out.as<float>(), args.x.data, args.x.dtype, n);
    WSI_CUDA_CHECK_LAUNCH();
    return;
  }
  StreamBuffer partial(blocks * sizeof(float), stream);
  sum_squares_kernel<<<blocks, kThreads, 0, stream>>>(partial.as<float>(), nullptr, args.x.data, args.x.dtype, n);
  WSI_CUDA_CHECK_LAUNCH();
  add_partials_kernel<<<1, kThreads, 0, stream>>>(args.out.as<float>(), partial.as<float>(), int(blocks));
  WSI_CUDA_CHECK_LAUNCH();
}

void fill(const FillArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.out.numel();
  if (n == 0) return;
  fill_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.value, n);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// Softmax over the last dimension and its backward on the GPU: one block of 256 threads per row,
// two passes over the row with block-wide reductions in f32. A row that is −∞ throughout (fully
// masked) gives 0, not NaN.
#include <cfloat>

#include "check.h"
#include "convert.cuh"
#include "ops.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

// Reduces v across the block with op; every thread gets the result.
template <class Op>
__device__ float block_reduce(float v, Op op, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) v = op(v, scratch[w]);
  __syncthreads();  // scratch is reused by the next reduction
  return v;
}

struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct Sum {
  __device__ float operator()(float a, float b) const { return a + b; }
};

__global__ void softmax_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, int64_t cols) {
  __shared__ float scratch[kThreads / 32];
  const int64_t base = int64_t(blockIdx.x) * cols;
  float max = -FLT_MAX;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) max = fmaxf(max, load_f32(x, x_dtype, base + c));
  max = block_reduce(max, Max{}, scratch);
  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) sum += __expf(load_f32(x, x_dtype, base + c) - max);
  sum = block_reduce(sum, Sum{}, scratch);
  // sum is 0 only when the whole row is −∞ (a fully masked row): its softmax is 0, not 0·∞.
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads)
    store_f32(out, out_dtype, base + c, __expf(load_f32(x, x_dtype, base + c) - max) * inv);
}

__global__ void softmax_backward_kernel(void* dx, DType dx_dtype, const void* y, DType y_dtype, const void* dy,
                                        DType dy_dtype, int64_t cols) {
  __shared__ float scratch[kThreads / 32];
  const int64_t base = int64_t(blockIdx.x) * cols;
  float dot = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads)
    dot += load_f32(y, y_dtype, base + c) * load_f32(dy, dy_dtype, base + c);
  dot = block_reduce(dot, Sum{}, scratch);
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float yv = load_f32(y, y_dtype, base + c);
    store_f32(dx, dx_dtype, base + c, yv * (load_f32(dy, dy_dtype, base + c) - dot));
  }
}

}  // namespace

void softmax(const SoftmaxArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.x.rows();
  if (rows == 0 || args.x.dim(-1) == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "softmax on CUDA: too many rows (", rows, ")");
  softmax_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data, args.x.dtype,
                                                          args.x.dim(-1));
  WSI_CUDA_CHECK_LAUNCH();
}

void softmax_backward(const SoftmaxBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.y.rows();
  if (rows == 0 || args.y.dim(-1) == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "softmax_backward on CUDA: too many rows (", rows, ")");
  softmax_backward_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.dx.data, args.dx.dtype, args.y.data,
                                                                   args.y.dtype, args.dy.data, args.dy.dtype,
                                                                   args.y.dim(-1));
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// Elementwise ops on the GPU: add, scale, and the column sums of sum_rows. Grid-stride loops,
// f32 arithmetic, any floating dtype in and out.
#include "check.h"
#include "convert.cuh"
#include "ops.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_kernel(void* out, DType out_dtype, const void* a, DType a_dtype, const void* b, DType b_dtype,
                           float alpha, float beta, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, out_dtype, i, alpha * load_f32(a, a_dtype, i) + beta * load_f32(b, b_dtype, i));
}

__global__ void scale_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, float scale, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, out_dtype, i, scale * load_f32(x, x_dtype, i));
}

// One thread per column, walking down the rows: reads are coalesced across a warp.
__global__ void sum_rows_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, int64_t rows, int64_t cols,
                                bool accumulate) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
    float sum = accumulate ? load_f32(out, out_dtype, c) : 0.0f;
    for (int64_t r = 0; r < rows; ++r) sum += load_f32(x, x_dtype, r * cols + c);
    store_f32(out, out_dtype, c, sum);
  }
}

}  // namespace

void add(const AddArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.out.numel();
  if (n == 0) return;
  add_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.a.data, args.a.dtype,
                                                               args.b.data, args.b.dtype, args.alpha, args.beta, n);
  WSI_CUDA_CHECK_LAUNCH();
}

void scale(const ScaleArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.out.numel();
  if (n == 0) return;
  scale_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data,
                                                                 args.x.dtype, args.scale, n);
  WSI_CUDA_CHECK_LAUNCH();
}

void sum_rows(const SumRowsArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.x.rows(), cols = args.x.dim(-1);
  if (cols == 0) return;
  sum_rows_kernel<<<blocks_for(cols, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data,
                                                                       args.x.dtype, rows, cols, args.accumulate);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// Moving rows on the GPU, one element per thread in grid-stride loops:
//   swap_axes01:  out (B, A, D)[b, a, :] = x (A, B, D)[a, b, :]
//   gather_rows:  out (M, H)[i, :] = x (T, H)[index[i], :]
//   put_rows:     out[index[i], :] = x (M, H)[i, :], other rows kept
//   scatter_rows: out (T, H) = 0, then as put_rows
// put_rows checks its index on the host and names a bad entry; in the others an index outside
// the rows is skipped on the GPU (the CPU backend reports it): their callers build indices on the
// host, where lib/ checks them.
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void swap_axes01_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, int64_t a, int64_t b,
                                   int64_t d) {
  const int64_t n = a * b * d;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = i % d, row = i / d, ai = row / b, bi = row % b;  // i indexes x
    store_f32(out, out_dtype, (bi * a + ai) * d + col, load_f32(x, x_dtype, i));
  }
}

// to[to_row(i)] = from[from_row(i)] for the rows i < m of the index; scatter=true swaps the roles.
__global__ void move_rows_kernel(void* to, DType to_dtype, const void* from, DType from_dtype, const int32_t* index,
                                 int64_t m, int64_t h, int64_t index_limit, bool scatter) {
  const int64_t n = m * h;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / h, col = i % h, other = index[row];
    if (other < 0 || other >= index_limit) continue;
    if (scatter)
      store_f32(to, to_dtype, other * h + col, load_f32(from, from_dtype, i));
    else
      store_f32(to, to_dtype, i, load_f32(from, from_dtype, other * h + col));
  }
}

__global__ void zero_kernel(void* out, DType dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, dtype, i, 0.0f);
}

}  // namespace

std::vector<int32_t> check_indices_on_host(const char* op, const char* name, const Tensor& index, int64_t rows,
                                           int32_t lowest, cudaStream_t stream) {
  std::vector<int32_t> host(static_cast<size_t>(index.dim(0)));
  WSI_CUDA_CHECK(cudaMemcpyAsync(host.data(), index.data, host.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
  WSI_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (size_t r = 0; r < host.size(); ++r)
    WSI_CHECK(host[r] >= lowest && host[r] < rows, ErrorCode::ShapeMismatch, op, ": ", name, "[", r, "] = ", host[r],
              " is outside the ", rows, " rows");
  return host;
}

void swap_axes01(const SwapAxes01Args& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.numel();
  if (n == 0) return;
  swap_axes01_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
      args.out.data, args.out.dtype, args.x.data, args.x.dtype, args.x.dim(0), args.x.dim(1), args.x.dim(2));
  WSI_CUDA_CHECK_LAUNCH();
}

void gather_rows(const GatherRowsArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t m = args.out.dim(0), h = args.out.dim(1);
  if (m * h == 0) return;
  move_rows_kernel<<<blocks_for(m * h, kThreads), kThreads, 0, stream>>>(
      args.out.data, args.out.dtype, args.x.data, args.x.dtype, args.index.as<int32_t>(), m, h, args.x.dim(0), false);
  WSI_CUDA_CHECK_LAUNCH();
}

void put_rows(const PutRowsArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t m = args.x.dim(0), h = args.x.dim(1);
  if (m * h == 0) return;
  check_indices_on_host("put_rows", "index", args.index, args.out.dim(0), 0, stream);
  move_rows_kernel<<<blocks_for(m * h, kThreads), kThreads, 0, stream>>>(
      args.out.data, args.out.dtype, args.x.data, args.x.dtype, args.index.as<int32_t>(), m, h, args.out.dim(0), true);
  WSI_CUDA_CHECK_LAUNCH();
}

void scatter_rows(const ScatterRowsArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t total = args.out.numel(), m = args.x.dim(0), h = args.x.dim(1);
  if (total == 0) return;
  zero_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, total);
  WSI_CUDA_CHECK_LAUNCH();
  if (m * h == 0) return;
  move_rows_kernel<<<blocks_for(m * h, kThreads), kThreads, 0, stream>>>(
      args.out.data, args.out.dtype, args.x.data, args.x.dtype, args.index.as<int32_t>(), m, h, args.out.dim(0), true);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

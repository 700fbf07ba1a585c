// The token embedding and its backward on the GPU (wsi/ops/qwen3.h):
//   embedding           one block per row, copying table[ids[r]] with any dtype conversion
//   embedding_backward  one block per row, atomically adding dy[r] into dtable[ids[r]] (f32)
//   put_rows            one block per row of x, copied to row index[i] of out
// The ids are copied to the host once per call to check them and name a bad one: an id out of
// range must be an error, never a read or write outside the table.
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void embedding_kernel(void* out, DType out_dtype, const void* table, DType table_dtype, const int32_t* ids,
                                 int64_t width) {
  const int64_t row = blockIdx.x, source = int64_t(ids[row]) * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x)
    store_f32(out, out_dtype, row * width + j, load_f32(table, table_dtype, source + j));
}

__global__ void embedding_backward_kernel(float* dtable, const void* dy, DType dy_dtype, const int32_t* ids, int64_t width) {
  const int64_t row = blockIdx.x;
  if (ids[row] < 0) return;
  float* target = dtable + int64_t(ids[row]) * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x) atomicAdd(target + j, load_f32(dy, dy_dtype, row * width + j));
}

__global__ void put_rows_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, const int32_t* index, int64_t width) {
  const int64_t row = blockIdx.x, target = int64_t(index[row]) * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x) store_f32(out, out_dtype, target + j, load_f32(x, x_dtype, row * width + j));
}

void check_ids(const char* op, const char* name, const Tensor& ids, int64_t vocab, int32_t lowest, cudaStream_t stream) {
  std::vector<int32_t> host(static_cast<size_t>(ids.dim(0)));
  WSI_CUDA_CHECK(cudaMemcpyAsync(host.data(), ids.data, host.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
  WSI_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (size_t r = 0; r < host.size(); ++r)
    WSI_CHECK(host[r] >= lowest && host[r] < vocab, ErrorCode::ShapeMismatch, op, ": ", name, "[", r, "] = ", host[r],
              " is outside the ", vocab, " rows");
}

}  // namespace

void embedding(const EmbeddingArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.ids.dim(0), width = args.table.dim(1);
  if (rows == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "embedding on CUDA: too many rows (", rows, ")");
  check_ids("embedding", "ids", args.ids, args.table.dim(0), 0, stream);
  embedding_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.table.data,
                                                           args.table.dtype, args.ids.as<int32_t>(), width);
  WSI_CUDA_CHECK_LAUNCH();
}

void embedding_backward(const EmbeddingBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.ids.dim(0), width = args.dtable.dim(1);
  if (rows == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "embedding_backward on CUDA: too many rows (", rows, ")");
  check_ids("embedding_backward", "ids", args.ids, args.dtable.dim(0), -1, stream);
  embedding_backward_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.dtable.as<float>(), args.dy.data,
                                                                    args.dy.dtype, args.ids.as<int32_t>(), width);
  WSI_CUDA_CHECK_LAUNCH();
}

void put_rows(const PutRowsArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.index.dim(0), width = args.out.dim(1);
  if (rows == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "put_rows on CUDA: too many rows (", rows, ")");
  check_ids("put_rows", "index", args.index, args.out.dim(0), 0, stream);
  put_rows_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data, args.x.dtype,
                                                          args.index.as<int32_t>(), width);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// The token embedding and its backward on the GPU (wsi/ops/qwen3.h):
//   embedding           one block per row, copying table[ids[r]] with any dtype conversion
//   embedding_backward  one block per row, atomically adding dy[r] into dtable[ids[r]] (f32)
// The ids are copied to the host once per call to check them and name a bad one.
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

}  // namespace

void embedding(const EmbeddingArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.ids.dim(0), width = args.table.dim(1);
  if (rows == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "embedding on CUDA: too many rows (", rows, ")");
  check_indices_on_host("embedding", "ids", args.ids, args.table.dim(0), 0, stream);
  embedding_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.table.data,
                                                           args.table.dtype, args.ids.as<int32_t>(), width);
  WSI_CUDA_CHECK_LAUNCH();
}

void embedding_backward(const EmbeddingBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.ids.dim(0), width = args.dtable.dim(1);
  if (rows == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "embedding_backward on CUDA: too many rows (", rows, ")");
  check_indices_on_host("embedding_backward", "ids", args.ids, args.dtable.dim(0), -1, stream);
  embedding_backward_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.dtable.as<float>(), args.dy.data,
                                                                    args.dy.dtype, args.ids.as<int32_t>(), width);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

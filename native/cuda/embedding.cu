// The token embedding and its backward on the GPU (wsi/ops/qwen3.h):
//   embedding           one block per row, copying table[ids[r]] with any dtype conversion
//   embedding_backward  the rows grouped by id on the host (stably, so in row order), then one
//                       thread per (id, column) adds its rows' dy in that order to dtable (f32):
//                       the same bits on every run, and the CPU's order of additions
//                       (WSI_VQA_CUDA_SUMS=atomic: one block per row, adding atomically)
// The ids are copied to the host once per call to check them and name a bad one.
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "embedding_groups.h"
#include "ops.h"
#include "stream_buffer.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void embedding_kernel(void* out, DType out_dtype, const void* table, DType table_dtype, const int32_t* ids,
                                 int64_t width) {
  const int64_t row = blockIdx.x, source = int64_t(ids[row]) * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x)
    store_f32(out, out_dtype, row * width + j, load_f32(table, table_dtype, source + j));
}

__global__ void embedding_backward_atomic_kernel(float* dtable, const void* dy, DType dy_dtype, const int32_t* ids,
                                                 int64_t width) {
  const int64_t row = blockIdx.x;
  if (ids[row] < 0) return;
  float* target = dtable + int64_t(ids[row]) * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x) atomicAdd(target + j, load_f32(dy, dy_dtype, row * width + j));
}

// Block (s, c): id group s (embedding_groups.h), columns c·blockDim.x + threadIdx.x; the group's
// rows added in order.
__global__ void embedding_backward_grouped_kernel(float* dtable, const void* dy, DType dy_dtype, const int32_t* group_ids,
                                                  const int32_t* starts, const int32_t* rows, int64_t width) {
  const int64_t j = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (j >= width) return;
  const int s = blockIdx.x;
  float* target = dtable + int64_t(group_ids[s]) * width + j;
  float sum = *target;
  for (int k = starts[s]; k < starts[s + 1]; ++k) sum += load_f32(dy, dy_dtype, int64_t(rows[k]) * width + j);
  *target = sum;
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
  const std::vector<int32_t> ids = check_indices_on_host("embedding_backward", "ids", args.ids, args.dtable.dim(0), -1, stream);
  if (atomic_sums()) {
    embedding_backward_atomic_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.dtable.as<float>(), args.dy.data,
                                                                             args.dy.dtype, args.ids.as<int32_t>(), width);
    WSI_CUDA_CHECK_LAUNCH();
    return;
  }
  WSI_CHECK(width <= int64_t(65535) * kThreads, ErrorCode::Unsupported, "embedding_backward on CUDA: rows wider than ",
            int64_t(65535) * kThreads, " (", width, ")");
  const IdGroups groups = group_rows_by_id(ids);
  if (groups.groups == 0 || width == 0) return;
  StreamBuffer device(groups.packed.size() * sizeof(int32_t), stream);
  // From pageable memory: the call returns once the bytes are staged, so `groups` may go after it.
  WSI_CUDA_CHECK(cudaMemcpyAsync(device.as<int32_t>(), groups.packed.data(), groups.packed.size() * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream));
  const int32_t* on_device = device.as<int32_t>();
  const dim3 grid(unsigned(groups.groups), blocks_for(width, kThreads));
  embedding_backward_grouped_kernel<<<grid, kThreads, 0, stream>>>(
      args.dtable.as<float>(), args.dy.data, args.dy.dtype, on_device, on_device + groups.starts_at(),
      on_device + groups.rows_at(), width);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

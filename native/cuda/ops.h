// The CUDA backend's implementations (one .cu file per family).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "wsi/ops.h"

namespace wsi::cuda {

#define WSI_CUDA_OP_DECL(name, Args) void name(const Args& args, const ExecContext& ctx);
WSI_OPS(WSI_CUDA_OP_DECL)
#undef WSI_CUDA_OP_DECL

// The stream and device of a call; makes the device current.
cudaStream_t prepare(const ExecContext& ctx);

// Copies an i32 index (or id) vector to the host and checks every entry is in [lowest, rows),
// naming the op, the tensor and the entry: a bad index must be an error, never a read or write
// outside a tensor. Returns the host copy. Defined in rows.cu.
std::vector<int32_t> check_indices_on_host(const char* op, const char* name, const Tensor& index, int64_t rows,
                                           int32_t lowest, cudaStream_t stream);

// WSI_VQA_CUDA_SUMS=atomic: sum_squares and embedding_backward add with float atomics, as they
// did before their fixed-order kernels (the default, "fixed-order"); kept selectable until those
// have passed the op harness on a GPU. Read once; any other value is an error. In runtime.cu.
bool atomic_sums();

}  // namespace wsi::cuda

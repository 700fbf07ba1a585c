// The CUDA backend's implementations (one .cu file per family).
#pragma once

#include <cuda_runtime.h>

#include "wsi/ops.h"

namespace wsi::cuda {

#define WSI_CUDA_OP_DECL(name, Args) void name(const Args& args, const ExecContext& ctx);
WSI_OPS(WSI_CUDA_OP_DECL)
#undef WSI_CUDA_OP_DECL

// The stream and device of a call; makes the device current.
cudaStream_t prepare(const ExecContext& ctx);

// Copies an i32 index (or id) vector to the host and checks every entry is in [lowest, rows),
// naming the op, the tensor and the entry: a bad index must be an error, never a read or write
// outside a tensor. Defined in rows.cu.
void check_indices_on_host(const char* op, const char* name, const Tensor& index, int64_t rows, int32_t lowest,
                           cudaStream_t stream);

}  // namespace wsi::cuda

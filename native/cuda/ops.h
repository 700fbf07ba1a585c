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

}  // namespace wsi::cuda

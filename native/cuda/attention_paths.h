// The ways the CUDA attention forward can run, chosen per call by native/cuda/attention_forward.cu:
//   tensor cores   bf16 / f16 inputs with head dim 64 or 128 (attention_forward_tc.cu);
//   CUDA cores     everything else, f32 throughout (attention_forward.cu).
// WSI_VQA_ATTENTION=cuda-cores forces the second (for benchmarks, or to rule the first out).
#pragma once

#include <cuda_runtime.h>

#include "wsi/ops/attention.h"

namespace wsi::cuda {

// Runs the forward on tensor cores; false (nothing launched) when the dtype, head dim or the
// device's shared memory does not allow it.
bool attention_forward_tensor_core(const AttentionArgs& args, cudaStream_t stream);

}  // namespace wsi::cuda

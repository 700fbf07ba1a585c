// The ways the CUDA attention forward and backward can run, chosen per call:
//   tensor cores   bf16 / f16 inputs with head dim 64 or 128 (attention_forward_tc.cu,
//                  attention_backward_tc.cu);
//   CUDA cores     everything else, f32 throughout (attention_forward.cu, attention_backward.cu).
// WSI_VQA_ATTENTION=cuda-cores forces the second (for benchmarks, or to rule the first out).
#pragma once

#include <cuda_runtime.h>

#include "wsi/ops/attention.h"

namespace wsi::cuda {

// Runs the forward on tensor cores; false (nothing launched) when the dtype, head dim or the
// device's shared memory does not allow it.
bool attention_forward_tensor_core(const AttentionArgs& args, cudaStream_t stream);

// The same for the backward's dK/dV and dQ kernels; args.delta must already hold rowsum(dO ∘ O).
bool attention_backward_tensor_core(const AttentionBackwardArgs& args, cudaStream_t stream);

// Whether WSI_VQA_ATTENTION=cuda-cores (read once; any other value but "auto" is an error).
bool attention_cuda_cores_forced();

}  // namespace wsi::cuda

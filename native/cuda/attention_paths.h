// The ways the CUDA attention forward and backward can run, chosen per call:
//   flash          bf16 / f16 inputs with head dim 64 or 128: mma.sync with the tiles' products
//                  in registers (attention_forward_flash.cu, attention_backward_flash.cu), the
//                  default;
//   wmma           the same inputs on the earlier tensor-core kernels that stage S, P and O in
//                  shared memory (attention_forward_tc.cu, attention_backward_tc.cu);
//   CUDA cores     everything else, f32 throughout (attention_forward.cu, attention_backward.cu,
//                  attention_decode.cu, which is also the decode of "wmma").
// WSI_VQA_ATTENTION picks one for benchmarks or to rule the others out: "auto" (or unset) as
// above, "wmma" skips the flash kernels, "cuda-cores" skips both tensor-core paths. A path that
// does not suit a call (dtype, head dim, alignment, shared memory) passes it to the next one.
#pragma once

#include <cuda_runtime.h>

#include "wsi/ops/attention.h"

namespace wsi::cuda {

enum class AttentionPath { Auto, Wmma, CudaCores };

// WSI_VQA_ATTENTION, read once; any value but "auto", "wmma" and "cuda-cores" is an error.
AttentionPath attention_path();

// Runs the forward in the FlashAttention-2 design; false (nothing launched) when the dtype, head
// dim, alignment or the device's shared memory does not allow it.
bool attention_forward_flash(const AttentionArgs& args, cudaStream_t stream);

// The backward's dK/dV and dQ kernels in the same design (attention_backward_flash.cu); false as
// above. args.delta must already hold rowsum(dO ∘ O).
bool attention_backward_flash(const AttentionBackwardArgs& args, cudaStream_t stream);

// One decode step by split-K with a merge (attention_decode_flash.cu); false as above.
bool attention_decode_flash(const AttentionDecodeArgs& args, cudaStream_t stream);

// Runs the forward on the wmma tensor-core kernel; false as above.
bool attention_forward_tensor_core(const AttentionArgs& args, cudaStream_t stream);

// The same for the backward's dK/dV and dQ kernels; args.delta must already hold rowsum(dO ∘ O).
bool attention_backward_tensor_core(const AttentionBackwardArgs& args, cudaStream_t stream);

}  // namespace wsi::cuda

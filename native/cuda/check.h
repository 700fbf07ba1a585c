// CUDA error handling for the backend: every runtime call and launch is checked, and a failure
// becomes a wsi::Error (never exit or abort: the process is the user's Node).
#pragma once

#include <cuda_runtime.h>

#include "wsi/error.h"

namespace wsi::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* what, const char* file, int line) {
  const ErrorCode code = status == cudaErrorMemoryAllocation ? ErrorCode::OutOfMemory : ErrorCode::Cuda;
  fail(code, what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ") at ", file, ":", line);
}

}  // namespace wsi::cuda

#define WSI_CUDA_CHECK(call)                                                                 \
  do {                                                                                       \
    const cudaError_t wsi_status_ = (call);                                                  \
    if (wsi_status_ != cudaSuccess) ::wsi::cuda::throw_cuda_error(wsi_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: a refused launch (bad configuration, too much shared memory).
#define WSI_CUDA_CHECK_LAUNCH() WSI_CUDA_CHECK(cudaPeekAtLastError())

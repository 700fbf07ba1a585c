// Scratch device memory for one op call, in stream order (cudaMallocAsync / cudaFreeAsync from
// the device's default memory pool): unlike cudaMalloc and cudaFree, neither synchronises the
// device, so a kernel may take per-call partial sums without stalling what is queued.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "check.h"

namespace wsi::cuda {

class StreamBuffer {
 public:
  StreamBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    WSI_CUDA_CHECK(cudaMallocAsync(&data_, bytes > 0 ? bytes : 1, stream));
  }
  ~StreamBuffer() {
    if (data_) cudaFreeAsync(data_, stream_);  // a failure here has nowhere to go; the pool keeps it
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;

  template <class T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace wsi::cuda

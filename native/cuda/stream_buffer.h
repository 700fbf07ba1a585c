// Scratch device memory for one op call, in stream order (cudaMallocAsync / cudaFreeAsync from
// the device's default memory pool): unlike cudaMalloc and cudaFree, neither synchronises the
// device, so a kernel may take per-call partial sums without stalling what is queued. The pool
// keeps up to kKeptPoolBytes mapped across synchronisations (its default keeps nothing), so
// the next call's scratch is taken from it rather than from the driver.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>

#include "check.h"

namespace wsi::cuda {

constexpr uint64_t kKeptPoolBytes = uint64_t(64) << 20;

// Once per device (the current one): let its default pool keep kKeptPoolBytes.
inline void keep_pool_memory() {
  static std::mutex mutex;
  static std::set<int> done;
  int device = 0;
  WSI_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  if (!done.insert(device).second) return;
  cudaMemPool_t pool = nullptr;
  WSI_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t threshold = kKeptPoolBytes;
  WSI_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
}

class StreamBuffer {
 public:
  StreamBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    keep_pool_memory();
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

// The CUDA runtime behind wsi/cuda_runtime.h: device discovery, memory, copies; and the
// WSI_VQA_CUDA_SUMS switch (ops.h).
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

#include "check.h"
#include "ops.h"
#include "wsi/cuda_runtime.h"

namespace wsi::cuda {

Status status() {
  Status s;
  s.compiled = true;
  int count = 0;
  // Any error here (no driver, a driver too old: error 35) means no usable device, not a failure.
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear the sticky error
    s.reason = err != cudaSuccess ? concat("no usable CUDA device: ", cudaGetErrorString(err)) : "no CUDA device";
    return s;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    s.devices.push_back({i, prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  s.available = !s.devices.empty();
  if (!s.available) s.reason = "no CUDA device answered";
  return s;
}

void* allocate(size_t bytes, int device) {
  WSI_CUDA_CHECK(cudaSetDevice(device));
  void* ptr = nullptr;
  const cudaError_t err = cudaMalloc(&ptr, bytes == 0 ? 1 : bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    fail(ErrorCode::OutOfMemory, "out of memory on cuda:", device, " allocating ", bytes, " bytes");
  }
  WSI_CUDA_CHECK(err);
  return ptr;
}

void release(void* ptr, int device) noexcept {
  if (!ptr) return;
  cudaSetDevice(device);
  cudaFree(ptr);
}

void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cuda()) WSI_CUDA_CHECK(cudaSetDevice(dst_device.index));
  else WSI_CUDA_CHECK(cudaSetDevice(src_device.index));
  // cudaMemcpyDefault infers the direction from unified addressing; it also waits for the
  // default stream, where every op of this backend runs.
  WSI_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void synchronize(int device) {
  WSI_CUDA_CHECK(cudaSetDevice(device));
  WSI_CUDA_CHECK(cudaDeviceSynchronize());
}

bool atomic_sums() {
  static const bool atomic = [] {
    const char* value = std::getenv("WSI_VQA_CUDA_SUMS");
    if (!value || !*value || std::strcmp(value, "fixed-order") == 0) return false;
    WSI_CHECK(std::strcmp(value, "atomic") == 0, ErrorCode::Unsupported,
              "WSI_VQA_CUDA_SUMS must be 'fixed-order' or 'atomic', got '", value, "'");
    return true;
  }();
  return atomic;
}

cudaStream_t prepare(const ExecContext& ctx) {
  WSI_CUDA_CHECK(cudaSetDevice(ctx.device.index));
  return static_cast<cudaStream_t>(ctx.stream);
}

}  // namespace wsi::cuda

// The CUDA runtime as the rest of the core sees it. Implemented by native/cuda/ when the CUDA
// backend is compiled in, and by native/core/no_cuda.cpp when it is not, so no other file needs
// an #ifdef. Any error finding devices means "no CUDA device": the binary must load everywhere.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "wsi/tensor.h"

namespace wsi::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t memory_bytes = 0;
};

struct Status {
  bool compiled = false;
  bool available = false;
  std::string reason;  // why not available, when it is not
  std::vector<DeviceInfo> devices;
};

Status status();
void* allocate(size_t bytes, int device);  // throws OutOfMemory / Cuda
void release(void* ptr, int device) noexcept;
void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void synchronize(int device);

}  // namespace wsi::cuda

#include "wsi/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>
#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

#include "wsi/cuda_runtime.h"
#include "wsi/error.h"

namespace wsi {

std::string Device::str() const { return is_cpu() ? "cpu" : concat("cuda:", index); }

bool parse_device(const std::string& text, Device& out) {
  if (text == "cpu") {
    out = Device::cpu();
    return true;
  }
  if (text == "cuda") {
    out = Device::cuda(0);
    return true;
  }
  if (text.rfind("cuda:", 0) != 0 || text.size() == 5 || text.size() > 8) return false;
  int index = 0;
  for (size_t i = 5; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    index = index * 10 + (text[i] - '0');
  }
  out = Device::cuda(index);
  return true;
}

Tensor::Tensor(void* data_, DType dtype_, Device device_, std::initializer_list<int64_t> dims)
    : data(data_), dtype(dtype_), device(device_), ndim(int(dims.size())) {
  WSI_CHECK(dims.size() <= kMaxDims, ErrorCode::ShapeMismatch, "a tensor has at most ", kMaxDims, " dimensions");
  int i = 0;
  for (int64_t d : dims) shape[i++] = d;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return ndim < 0 ? 0 : n;
}

bool Tensor::same_shape(const Tensor& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; ++i)
    if (shape[i] != o.shape[i]) return false;
  return true;
}

std::string Tensor::shape_str() const {
  std::ostringstream out;
  out << '[';
  for (int i = 0; i < ndim; ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::string Tensor::describe() const { return concat(dtype_name(dtype), shape_str(), " on ", device.str()); }

// Host memory is 64-byte aligned: a cache line, and what AVX-512 loads like.
constexpr size_t kHostAlignment = 64;
// Allocations of at least one huge page start on a huge-page boundary and ask the kernel for huge
// pages (what numpy does): where transparent huge pages are "madvise", the first touch of a
// 160 MB slide then faults 80 times instead of 40 000, which costs more than reading it.
constexpr size_t kHugePage = size_t(2) << 20;

std::shared_ptr<Storage> Storage::allocate(size_t bytes, Device device) {
  void* data = nullptr;
  if (device.is_cpu()) {
    // posix_memalign, unlike aligned_alloc, takes the exact size: AddressSanitizer then sees a
    // write one byte past the end.
    const size_t alignment = bytes >= kHugePage ? kHugePage : kHostAlignment;
    if (posix_memalign(&data, alignment, bytes == 0 ? 1 : bytes) != 0) data = nullptr;
    WSI_CHECK(data, ErrorCode::OutOfMemory, "out of host memory allocating ", bytes, " bytes");
#ifdef MADV_HUGEPAGE
    if (bytes >= kHugePage) madvise(data, bytes, MADV_HUGEPAGE);  // a hint: failure changes nothing
#endif
  } else {
    data = cuda::allocate(bytes, device.index);
  }
  return std::shared_ptr<Storage>(new Storage(data, bytes, device));
}

Storage::~Storage() {
  if (device_.is_cpu())
    std::free(data_);
  else
    cuda::release(data_, device_.index);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu())
    std::memcpy(dst, src, bytes);
  else
    cuda::copy(dst, dst_device, src, src_device, bytes);
}

}  // namespace wsi

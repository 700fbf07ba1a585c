// Tensors of the core: a non-owning, contiguous, row-major view over memory on one device, and
// the reference-counted Storage that owns such memory. Ops take views; whoever calls them keeps
// the storage alive (the binding holds a shared_ptr for as long as a call runs).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "wsi/dtype.h"

namespace wsi {

struct Device {
  enum class Kind : uint8_t { CPU, CUDA };
  Kind kind = Kind::CPU;
  int index = 0;  // the CUDA ordinal; 0 on the CPU

  static Device cpu() { return {}; }
  static Device cuda(int index) { return {Kind::CUDA, index}; }
  bool is_cpu() const { return kind == Kind::CPU; }
  bool is_cuda() const { return kind == Kind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"
};

// Returns false when the text is not "cpu" or "cuda:N".
bool parse_device(const std::string& text, Device& out);

constexpr int kMaxDims = 8;

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device;
  int ndim = -1;  // -1: no tensor (an optional argument left out)
  int64_t shape[kMaxDims] = {};

  Tensor() = default;
  Tensor(void* data, DType dtype, Device device, std::initializer_list<int64_t> dims);

  bool defined() const { return ndim >= 0; }
  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  // Size of dimension i; negative i counts from the end.
  int64_t dim(int i) const { return shape[i < 0 ? ndim + i : i]; }
  // Product of all dimensions but the last: the number of rows of a row-wise op.
  int64_t rows() const { return ndim == 0 ? 1 : numel() / dim(-1); }
  bool same_shape(const Tensor& o) const;
  std::string shape_str() const;  // "[3, 4]"
  std::string describe() const;   // "bf16[3, 4] on cuda:0"

  template <class T>
  T* as() const { return static_cast<T*>(data); }
};

// Owns a block of memory on one device. Allocation goes through the device's backend.
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  Storage(void* data, size_t bytes, Device device) : data_(data), bytes_(bytes), device_(device) {}
  void* data_;
  size_t bytes_;
  Device device_;
};

// Copies bytes between any two devices (host <-> device, device <-> device, host <-> host).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace wsi

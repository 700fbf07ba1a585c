// NativeTensor: the JavaScript handle of a tensor. It holds a reference to the storage, a byte
// offset into it, the dtype and the shape; lib/tensor.ts wraps it in the public Tensor class.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "wsi/tensor.h"

namespace wsi::binding {

class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, std::shared_ptr<Storage> storage, size_t byte_offset, DType dtype,
                             std::vector<int64_t> shape);
  // The NativeTensor in `value`, or nullptr when it is something else.
  static NativeTensor* from(Napi::Env env, Napi::Value value);

  explicit NativeTensor(const Napi::CallbackInfo& info);
  // Runs when the GC collects a handle that was never disposed: the backstop behind dispose().
  void Finalize(Napi::Env env) override;

  bool disposed() const { return !storage_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // The core's view of this tensor; throws Disposed after dispose().
  Tensor view(const char* what) const;
  // Copies a typed array, Buffer or DataView of exactly this tensor's byte size into it.
  void write_from(Napi::Env env, Napi::Value data);

 private:
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value is_disposed(const Napi::CallbackInfo& info);
  Napi::Value read_bytes(const Napi::CallbackInfo& info);
  Napi::Value write_bytes(const Napi::CallbackInfo& info);
  Napi::Value to_device(const Napi::CallbackInfo& info);
  Napi::Value reshape_view(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  void release_owned_memory(Napi::Env env);

  std::shared_ptr<Storage> storage_;
  size_t byte_offset_ = 0;
  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  int64_t external_bytes_ = 0;  // host bytes this handle allocated and told V8's GC about
};

// Module functions that make tensors: empty(shape, dtype, device), fromBytes(bytes, shape, dtype, device).
Napi::Value create_empty(const Napi::CallbackInfo& info);
Napi::Value create_from_bytes(const Napi::CallbackInfo& info);

}  // namespace wsi::binding

#include "native_tensor.h"

#include <cstring>

#include "addon_state.h"
#include "arguments.h"
#include "wsi/cuda_runtime.h"
#include "wsi/error.h"

namespace wsi::binding {
namespace {

int64_t count_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    WSI_CHECK(d == 0 || n <= INT64_MAX / d, ErrorCode::ShapeMismatch, "shape is too large");
    n *= d;
  }
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Napi::Object allocate(Napi::Env env, const std::vector<int64_t>& shape, DType dtype, Device device) {
  const size_t bytes = size_t(count_elements(shape)) * dtype_size(dtype);
  return NativeTensor::create(env, Storage::allocate(bytes, device), 0, dtype, shape);
}

}  // namespace

Napi::Function NativeTensor::define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceAccessor<&NativeTensor::shape>("shape"),
                         InstanceAccessor<&NativeTensor::dtype>("dtype"),
                         InstanceAccessor<&NativeTensor::device>("device"),
                         InstanceAccessor<&NativeTensor::is_disposed>("disposed"),
                         InstanceMethod<&NativeTensor::read_bytes>("readBytes"),
                         InstanceMethod<&NativeTensor::write_bytes>("writeBytes"),
                         InstanceMethod<&NativeTensor::to_device>("to"),
                         InstanceMethod<&NativeTensor::reshape_view>("view"),
                         InstanceMethod<&NativeTensor::dispose>("dispose"),
                     });
}

NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {}

void NativeTensor::Finalize(Napi::Env env) { release_owned_memory(env); }

Napi::Object NativeTensor::create(Napi::Env env, std::shared_ptr<Storage> storage, size_t byte_offset, DType dtype,
                                  std::vector<int64_t> shape) {
  Napi::Object object = state(env).tensor_constructor.New({});
  NativeTensor* t = Unwrap(object);
  // The handle that allocates host memory tells V8's GC about it, so that forgotten tensors are
  // collected under memory pressure; views of that memory do not count it again.
  if (byte_offset == 0 && storage.use_count() == 1 && storage->device().is_cpu()) {
    t->external_bytes_ = int64_t(storage->bytes());
    Napi::MemoryManagement::AdjustExternalMemory(env, t->external_bytes_);
  }
  t->storage_ = std::move(storage);
  t->byte_offset_ = byte_offset;
  t->dtype_ = dtype;
  t->shape_ = std::move(shape);
  return object;
}

NativeTensor* NativeTensor::from(Napi::Env env, Napi::Value value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(state(env).tensor_constructor.Value())) return nullptr;
  return Unwrap(value.As<Napi::Object>());
}

Tensor NativeTensor::view(const char* what) const {
  WSI_CHECK(storage_, ErrorCode::Disposed, what, " was used after dispose()");
  Tensor t;
  t.data = static_cast<char*>(storage_->data()) + byte_offset_;
  t.dtype = dtype_;
  t.device = storage_->device();
  t.ndim = int(shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) t.shape[i] = shape_[i];
  return t;
}

Napi::Value NativeTensor::shape(const Napi::CallbackInfo& info) {
  Napi::Array array = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) array.Set(uint32_t(i), double(shape_[i]));
  return array;
}

Napi::Value NativeTensor::dtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dtype_name(dtype_)); }

Napi::Value NativeTensor::device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), guard(info.Env(), [&] { return view("tensor"); }).device.str());
}

Napi::Value NativeTensor::is_disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed()); }

// The tensor's bytes: on the CPU an ArrayBuffer over the tensor's own memory (zero copy; it keeps
// the memory alive after dispose()), from a GPU a copy.
Napi::Value NativeTensor::read_bytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const Tensor t = view("tensor");
    const size_t bytes = t.nbytes();
    if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
    if (t.device.is_cpu()) {
      auto* keep = new std::shared_ptr<Storage>(storage_);
      return Napi::ArrayBuffer::New(
          env, t.data, bytes, [](Napi::Env, void*, std::shared_ptr<Storage>* hint) { delete hint; }, keep);
    }
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, bytes);
    copy_bytes(copy.Data(), Device::cpu(), t.data, t.device, bytes);
    return copy;
  });
}

Napi::Value NativeTensor::write_bytes(const Napi::CallbackInfo& info) {
  write_from(info.Env(), info[0]);
  return info.Env().Undefined();
}

void NativeTensor::write_from(Napi::Env env, Napi::Value data) {
  if (!data.IsTypedArray() && !data.IsDataView())
    throw_type_error(env, "'data' must be a typed array, Buffer or DataView");
  guard(env, [&] {
    const Tensor t = view("tensor");
    Napi::ArrayBuffer buffer;
    size_t offset = 0, length = 0;
    if (data.IsTypedArray()) {
      Napi::TypedArray array = data.As<Napi::TypedArray>();
      buffer = array.ArrayBuffer();
      offset = array.ByteOffset();
      length = array.ByteLength();
    } else {
      Napi::DataView dv = data.As<Napi::DataView>();
      buffer = dv.ArrayBuffer();
      offset = dv.ByteOffset();
      length = dv.ByteLength();
    }
    if (length != t.nbytes())
      throw_range_error(env, concat("'data' has ", length, " bytes but a ", t.describe(), " tensor has ", t.nbytes()));
    copy_bytes(t.data, t.device, static_cast<char*>(buffer.Data()) + offset, Device::cpu(), length);
  });
}

// to(device): a copy on another device (a copy even when it is the same device).
Napi::Value NativeTensor::to_device(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Device target = read_device(env, info[0], "device");
  return guard(env, [&] {
    const Tensor t = view("tensor");
    Napi::Object copy = allocate(env, shape_, dtype_, target);
    copy_bytes(Unwrap(copy)->storage_->data(), target, t.data, t.device, t.nbytes());
    return copy;
  });
}

// view(shape, elementOffset): a tensor over the same memory, elementOffset elements in.
Napi::Value NativeTensor::reshape_view(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int64_t> shape = read_shape(env, info[0], "shape");
  const double offset = info[1].IsUndefined() ? 0.0 : info[1].ToNumber().DoubleValue();
  return guard(env, [&] {
    const Tensor t = view("tensor");
    const size_t element = dtype_size(dtype_);
    const size_t own = t.nbytes();
    const size_t wanted = size_t(count_elements(shape)) * element;
    if (!(offset >= 0) || offset != double(int64_t(offset)) || size_t(offset) * element + wanted > own)
      throw_range_error(env, concat("a view of shape ", shape_text(shape), " at element ", offset,
                                    " does not fit in a tensor of shape ", shape_text(shape_)));
    return create(env, storage_, byte_offset_ + size_t(offset) * element, dtype_, std::move(shape));
  });
}

void NativeTensor::release_owned_memory(Napi::Env env) {
  if (external_bytes_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -external_bytes_);
  external_bytes_ = 0;
  storage_.reset();
}

Napi::Value NativeTensor::dispose(const Napi::CallbackInfo& info) {
  release_owned_memory(info.Env());
  return info.Env().Undefined();
}

Napi::Value create_empty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int64_t> shape = read_shape(env, info[0], "shape");
  const DType dtype = read_dtype(env, info[1], "dtype");
  const Device device = read_device(env, info[2], "device");
  return guard(env, [&] { return allocate(env, shape, dtype, device); });
}

Napi::Value create_from_bytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int64_t> shape = read_shape(env, info[1], "shape");
  const DType dtype = read_dtype(env, info[2], "dtype");
  const Device device = read_device(env, info[3], "device");
  Napi::Object tensor = guard(env, [&] { return allocate(env, shape, dtype, device); });
  NativeTensor::Unwrap(tensor)->write_from(env, info[0]);
  return tensor;
}

}  // namespace wsi::binding

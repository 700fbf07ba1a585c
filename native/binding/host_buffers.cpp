#include "host_buffers.h"

#include <cmath>
#include <memory>

#include "addon_state.h"
#include "promise_worker.h"
#include "wsi/finite.h"
#include "wsi/read_file.h"
#include "wsi/tensor.h"

namespace wsi::binding {

namespace {
// Number.MAX_SAFE_INTEGER: larger byte counts cannot come exactly from JavaScript.
constexpr double kMaxSafeInteger = 9007199254740991.0;

// A byte count from JavaScript: a non-negative integer, exactly representable.
size_t byte_count(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsNumber()) throw Napi::TypeError::New(env, concat("'", name, "' must be a number"));
  const double requested = value.As<Napi::Number>().DoubleValue();
  if (!(requested >= 0 && requested <= kMaxSafeInteger && std::floor(requested) == requested)) {
    throw Napi::RangeError::New(env, concat("'", name, "' must be a non-negative integer"));
  }
  return static_cast<size_t>(requested);
}

// An ArrayBuffer over the storage's bytes, keeping it alive and reported to V8 until collected.
Napi::Value array_buffer(Napi::Env env, std::shared_ptr<Storage> storage) {
  const size_t bytes = storage->bytes();
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  auto* keep = new std::shared_ptr<Storage>(std::move(storage));
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return Napi::ArrayBuffer::New(
      env, (*keep)->data(), bytes,
      [](Napi::Env finalizing, void*, std::shared_ptr<Storage>* hint) {
        Napi::MemoryManagement::AdjustExternalMemory(finalizing, -static_cast<int64_t>((*hint)->bytes()));
        delete hint;
      },
      keep);
}

}  // namespace

Napi::Value host_buffer(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  const size_t bytes = byte_count(env, call[0], "bytes");
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  return guard(env, [&] { return array_buffer(env, Storage::allocate(bytes, Device::cpu())); });
}

Napi::Value read_file(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  if (!call[0].IsString()) throw Napi::TypeError::New(env, "'path' must be a string");
  std::string path = call[0].As<Napi::String>().Utf8Value();
  const size_t max_bytes = byte_count(env, call[1], "maxBytes");
  auto storage = std::make_shared<std::shared_ptr<Storage>>();
  return PromiseWorker::queue(
      env, "wsi-vqa.readFile", ErrorCode::Io, [=] { *storage = read_regular_file(path, max_bytes); },
      [storage](Napi::Env settled) { return array_buffer(settled, std::move(*storage)); });
}

Napi::Value find_non_finite(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  if (!call[0].IsTypedArray() || call[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, "'values' must be a Float32Array");
  }
  const auto values = call[0].As<Napi::Float32Array>();
  const size_t count = values.ElementLength();
  const size_t index = first_non_finite(values.Data(), count);
  return Napi::Number::New(env, index == count ? -1.0 : static_cast<double>(index));
}

}  // namespace wsi::binding

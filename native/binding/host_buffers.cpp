#include "host_buffers.h"

#include <cmath>
#include <memory>

#include "addon_state.h"
#include "wsi/finite.h"
#include "wsi/tensor.h"

namespace wsi::binding {

namespace {
// Number.MAX_SAFE_INTEGER: larger byte counts cannot come exactly from JavaScript.
constexpr double kMaxSafeInteger = 9007199254740991.0;
}  // namespace

Napi::Value host_buffer(const Napi::CallbackInfo& call) {
  Napi::Env env = call.Env();
  if (!call[0].IsNumber()) throw Napi::TypeError::New(env, "'bytes' must be a number");
  const double requested = call[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0 && requested <= kMaxSafeInteger && std::floor(requested) == requested)) {
    throw Napi::RangeError::New(env, "'bytes' must be a non-negative integer");
  }
  const auto bytes = static_cast<size_t>(requested);
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  return guard(env, [&]() -> Napi::Value {
    auto* keep = new std::shared_ptr<Storage>(Storage::allocate(bytes, Device::cpu()));
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
    return Napi::ArrayBuffer::New(
        env, (*keep)->data(), bytes,
        [](Napi::Env finalizing, void*, std::shared_ptr<Storage>* hint) {
          Napi::MemoryManagement::AdjustExternalMemory(finalizing, -static_cast<int64_t>((*hint)->bytes()));
          delete hint;
        },
        keep);
  });
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

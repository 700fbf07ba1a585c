#include "arguments.h"

#include <cmath>

#include "wsi/error.h"

namespace wsi::binding {

void throw_type_error(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }
void throw_range_error(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

std::vector<int64_t> read_shape(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsArray()) throw_type_error(env, concat("'", name, "' must be an array of dimension sizes"));
  Napi::Array array = value.As<Napi::Array>();
  if (array.Length() > kMaxDims)
    throw_range_error(env, concat("'", name, "' has ", array.Length(), " dimensions; at most ", kMaxDims));
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value d = array.Get(i);
    if (!d.IsNumber()) throw_type_error(env, concat("'", name, "[", i, "]' must be a number"));
    const double size = d.As<Napi::Number>().DoubleValue();
    if (!(size >= 0) || size != std::floor(size) || size > 9007199254740991.0)
      throw_range_error(env, concat("'", name, "[", i, "]' must be a non-negative integer, got ", size));
    shape.push_back(int64_t(size));
  }
  return shape;
}

std::string read_string(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsString()) throw_type_error(env, concat("'", name, "' must be a string"));
  return value.As<Napi::String>().Utf8Value();
}

DType read_dtype(Napi::Env env, Napi::Value value, const std::string& name) {
  const std::string text = read_string(env, value, name);
  DType dtype;
  if (!parse_dtype(text, dtype))
    throw_range_error(env, concat("'", name, "' must be one of f32, bf16, f16, i32, i64; got '", text, "'"));
  return dtype;
}

Device read_device(Napi::Env env, Napi::Value value, const std::string& name) {
  const std::string text = read_string(env, value, name);
  Device device;
  if (!parse_device(text, device))
    throw_range_error(env, concat("'", name, "' must be 'cpu' or 'cuda:N'; got '", text, "'"));
  return device;
}

}  // namespace wsi::binding

// Reading JavaScript arguments into core types. Misuse is a TypeError (wrong kind of value) or a
// RangeError (right kind, bad value) whose message names the argument.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "wsi/tensor.h"

namespace wsi::binding {

std::vector<int64_t> read_shape(Napi::Env env, Napi::Value value, const std::string& name);
DType read_dtype(Napi::Env env, Napi::Value value, const std::string& name);
Device read_device(Napi::Env env, Napi::Value value, const std::string& name);
std::string read_string(Napi::Env env, Napi::Value value, const std::string& name);

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& message);

}  // namespace wsi::binding

// What the addon keeps per JavaScript environment (main thread and each worker thread): the
// JavaScript error classes to throw, and the NativeTensor and NativeProcessGroup constructors.
#pragma once

#include <napi.h>

#include "wsi/error.h"

namespace wsi::binding {

struct AddonState {
  Napi::ObjectReference error_classes;  // {WsiVqaError, ShapeError, ...} from lib/errors.ts
  Napi::FunctionReference tensor_constructor;
  Napi::FunctionReference process_group_constructor;
};

AddonState& state(Napi::Env env);

// The JavaScript error for a core error: an instance of the matching class of lib/errors.ts
// once they are registered, else a plain Error with a `code`.
Napi::Error to_js_error(Napi::Env env, const Error& error);

// Runs body, turning core errors into JavaScript exceptions.
template <class Body>
auto guard(Napi::Env env, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    throw to_js_error(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw to_js_error(env, Error(ErrorCode::OutOfMemory, "out of host memory"));
  } catch (const std::exception& e) {
    throw to_js_error(env, Error(ErrorCode::Internal, e.what()));
  }
}

}  // namespace wsi::binding

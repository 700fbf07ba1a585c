#include "addon_state.h"

namespace wsi::binding {
namespace {

struct JsErrorKind {
  const char* class_name;  // a key of the object lib/errors.ts registers
  const char* code;        // the `code` of lib/errors.ts
};

JsErrorKind kind_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::ShapeMismatch: return {"ShapeError", "SHAPE_MISMATCH"};
    case ErrorCode::DTypeMismatch: return {"ShapeError", "DTYPE_MISMATCH"};
    case ErrorCode::Unsupported: return {"UnsupportedError", "UNSUPPORTED"};
    case ErrorCode::Cuda: return {"CudaError", "CUDA_ERROR"};
    case ErrorCode::OutOfMemory: return {"OutOfMemoryError", "OUT_OF_MEMORY"};
    case ErrorCode::MissingLibrary: return {"MissingLibraryError", "MISSING_LIBRARY"};
    case ErrorCode::Io: return {"IoError", "IO_ERROR"};
    case ErrorCode::Format: return {"FormatError", "FORMAT_ERROR"};
    case ErrorCode::Disposed: return {"DisposedError", "DISPOSED"};
    case ErrorCode::Distributed: return {"DistributedError", "DISTRIBUTED_ERROR"};
    case ErrorCode::Internal: break;
  }
  return {"WsiVqaError", "INTERNAL"};
}

}  // namespace

Napi::Error to_js_error(Napi::Env env, const Error& error) {
  const JsErrorKind kind = kind_of(error.code());
  const Napi::String message = Napi::String::New(env, error.what());
  const Napi::String code = Napi::String::New(env, kind.code);
  AddonState& s = state(env);
  if (!s.error_classes.IsEmpty()) {
    Napi::Value cls = s.error_classes.Value().Get(kind.class_name);
    if (cls.IsFunction()) {
      // Every class takes (message); ShapeError also takes the code that tells shape from dtype.
      Napi::Object instance = cls.As<Napi::Function>().New({message, code});
      return Napi::Error(env, instance);
    }
  }
  Napi::Error plain = Napi::Error::New(env, error.what());
  plain.Set("code", code);
  return plain;
}

}  // namespace wsi::binding

// Errors of the native core. The core never exits or aborts: every failure is a wsi::Error with a
// code, which the binding turns into the matching JavaScript error class (lib/errors.ts).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace wsi {

enum class ErrorCode {
  ShapeMismatch,   // tensors whose shapes do not fit the op
  DTypeMismatch,   // tensors whose dtypes do not fit the op
  Unsupported,     // op or dtype not implemented on this backend
  Cuda,            // CUDA runtime or kernel failure
  OutOfMemory,     // host or device allocation refused
  MissingLibrary,  // cuBLASLt / NCCL not found at run time
  Io,              // a file could not be read or written
  Format,          // content that breaks its format
  Disposed,        // a tensor used after it was released
  Distributed,     // a collective or rendezvous that failed: a rank died, left or timed out
  Internal,        // a bug: an invariant of our own that did not hold
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Concatenates anything streamable: concat("got ", n, " dims").
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

template <class... Parts>
[[noreturn]] void fail(ErrorCode code, Parts&&... parts) {
  throw Error(code, concat(std::forward<Parts>(parts)...));
}

}  // namespace wsi

// WSI_CHECK(cond, code, message parts...): throws wsi::Error when cond is false.
#define WSI_CHECK(cond, code, ...)                 \
  do {                                             \
    if (!(cond)) ::wsi::fail(code, __VA_ARGS__);   \
  } while (0)

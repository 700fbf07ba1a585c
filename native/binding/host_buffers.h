// Module functions for reading slide features: host buffers the kernel backs with huge pages,
// whole files read off the main thread into them, and the finiteness scan of a Float32Array.
#pragma once

#include <napi.h>

namespace wsi::binding {

// hostBuffer(bytes): a new ArrayBuffer of `bytes` uninitialised bytes of host memory (allocated
// as tensors are: large ones on huge pages), reported to V8 as external memory until collected.
Napi::Value host_buffer(const Napi::CallbackInfo& call);

// readFile(path, maxBytes): a promise of the whole regular file as an ArrayBuffer like
// hostBuffer's, read on a libuv worker thread (open, check, read, close as one job, so it goes on
// while the main thread is busy); rejects with IoError naming the file (see wsi/read_file.h).
Napi::Value read_file(const Napi::CallbackInfo& call);

// findNonFinite(values: Float32Array): the index of its first infinite or NaN value, or -1.
Napi::Value find_non_finite(const Napi::CallbackInfo& call);

}  // namespace wsi::binding

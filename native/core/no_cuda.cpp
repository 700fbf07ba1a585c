// The CUDA runtime of a build without the CUDA backend: nothing is available, and anything that
// would need a GPU says so.
#include "wsi/cuda_runtime.h"
#include "wsi/error.h"
#include "wsi/ops.h"

namespace wsi {

const OpTable* cuda_ops() { return nullptr; }

namespace cuda {

constexpr const char* kNotCompiled = "this build of wsi-vqa has no CUDA backend (nvcc was not found when it was built)";

Status status() { return Status{false, false, kNotCompiled, {}}; }
void* allocate(size_t, int) { fail(ErrorCode::Unsupported, kNotCompiled); }
void release(void*, int) noexcept {}
void copy(void*, Device, const void*, Device, size_t) { fail(ErrorCode::Unsupported, kNotCompiled); }
void synchronize(int) {}

}  // namespace cuda
}  // namespace wsi

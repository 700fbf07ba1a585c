// The CUDA runtime of a build without the CUDA backend: nothing is available, and anything that
// would need a GPU says so.
#include "wsi/cuda_runtime.h"
#include "wsi/distributed/process_group.h"
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

namespace dist {

std::vector<char> nccl_unique_id() { fail(ErrorCode::Unsupported, cuda::kNotCompiled); }
std::unique_ptr<ProcessGroup> connect_nccl(const GroupOptions&, int, const std::vector<char>&) {
  fail(ErrorCode::Unsupported, cuda::kNotCompiled);
}

}  // namespace dist
}  // namespace wsi

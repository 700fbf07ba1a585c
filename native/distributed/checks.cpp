// Argument checks shared by every process group backend.
#include "wsi/distributed/process_group.h"
#include "wsi/error.h"

namespace wsi::dist {

void check_all_reduce(const ProcessGroup& group, const Tensor& t) {
  WSI_CHECK(t.dtype == DType::F32, ErrorCode::DTypeMismatch, "all_reduce takes f32 tensors, got ", t.describe());
  WSI_CHECK(t.device == group.device() || (t.device.is_cuda() && group.device().is_cuda()), ErrorCode::Unsupported,
            "the ", group.backend(), " group works on ", group.device().str(), " tensors, got ", t.describe());
}

void check_reduce_scatter(const ProcessGroup& group, int world_size, const Tensor& in, const Tensor& out) {
  check_all_reduce(group, in);
  check_all_reduce(group, out);
  WSI_CHECK(in.numel() == out.numel() * world_size, ErrorCode::ShapeMismatch, "reduce_scatter: the input (", in.shape_str(),
            ") must hold ", world_size, " times the output (", out.shape_str(), ")");
}

void check_all_gather(const ProcessGroup& group, int world_size, const Tensor& in, const Tensor& out) {
  WSI_CHECK(in.dtype == out.dtype, ErrorCode::DTypeMismatch, "all_gather: input ", in.describe(), " and output ", out.describe(), " differ in dtype");
  WSI_CHECK(in.device == group.device() && out.device == group.device(), ErrorCode::Unsupported, "the ", group.backend(),
            " group works on ", group.device().str(), " tensors, got ", in.describe(), " and ", out.describe());
  WSI_CHECK(out.numel() == in.numel() * world_size, ErrorCode::ShapeMismatch, "all_gather: the output (", out.shape_str(),
            ") must hold ", world_size, " times the input (", in.shape_str(), ")");
}

}  // namespace wsi::dist

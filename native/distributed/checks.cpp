// Argument checks shared by every process group backend.
#include "wsi/distributed/process_group.h"
#include "wsi/error.h"

namespace wsi::dist {
namespace {

void check_device(const ProcessGroup& group, const Tensor& t) {
  WSI_CHECK(t.device == group.device(), ErrorCode::Unsupported, "the ", group.backend(), " group works on ",
            group.device().str(), " tensors, got ", t.describe());
}

}  // namespace

void check_all_reduce(const ProcessGroup& group, const Tensor& t) {
  WSI_CHECK(t.dtype == DType::F32, ErrorCode::DTypeMismatch, "all_reduce takes f32 tensors, got ", t.describe());
  check_device(group, t);
}

void check_reduce_scatter(const ProcessGroup& group, int world_size, const Tensor& in, const Tensor& out) {
  check_all_reduce(group, in);
  check_all_reduce(group, out);
  WSI_CHECK(in.numel() == out.numel() * world_size, ErrorCode::ShapeMismatch, "reduce_scatter: the input (", in.shape_str(),
            ") must hold ", world_size, " times the output (", out.shape_str(), ")");
}

void check_all_gather(const ProcessGroup& group, int world_size, const Tensor& in, const Tensor& out) {
  WSI_CHECK(in.dtype == out.dtype, ErrorCode::DTypeMismatch, "all_gather: input ", in.describe(), " and output ",
            out.describe(), " differ in dtype");
  check_device(group, in);
  check_device(group, out);
  WSI_CHECK(out.numel() == in.numel() * world_size, ErrorCode::ShapeMismatch, "all_gather: the output (", out.shape_str(),
            ") must hold ", world_size, " times the input (", in.shape_str(), ")");
}

void check_broadcast(const ProcessGroup& group, int world_size, const Tensor& t, int root) {
  check_device(group, t);
  WSI_CHECK(root >= 0 && root < world_size, ErrorCode::ShapeMismatch, "broadcast: root ", root, " is not a rank of ",
            world_size);
}

}  // namespace wsi::dist

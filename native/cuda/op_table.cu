#include "ops.h"

namespace wsi {

const OpTable* cuda_ops() {
  static const OpTable table = [] {
    OpTable t;
#define WSI_CUDA_OP_SET(name, Args) t.name = &cuda::name;
    WSI_OPS(WSI_CUDA_OP_SET)
#undef WSI_CUDA_OP_SET
    return t;
  }();
  return &table;
}

}  // namespace wsi

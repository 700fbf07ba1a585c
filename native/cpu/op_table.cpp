#include "ops.h"

namespace wsi {

const OpTable& cpu_ops() {
  static const OpTable table = [] {
    OpTable t;
#define WSI_CPU_OP_SET(name, Args) t.name = &cpu::name;
    WSI_OPS(WSI_CPU_OP_SET)
#undef WSI_CPU_OP_SET
    return t;
  }();
  return table;
}

}  // namespace wsi

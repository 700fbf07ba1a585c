// The CPU backend's implementations: the reference every other backend is checked against,
// written for clarity first and spread over the thread pool.
#pragma once

#include "wsi/ops.h"

namespace wsi::cpu {

#define WSI_CPU_OP_DECL(name, Args) void name(const Args& args, const ExecContext& ctx);
WSI_OPS(WSI_CPU_OP_DECL)
#undef WSI_CPU_OP_DECL

}  // namespace wsi::cpu

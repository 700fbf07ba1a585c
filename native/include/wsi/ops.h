// The op table: one list of ops, one table of function pointers per backend. Model code calls
// wsi::ops::<name>(args), which validates the arguments, finds the backend of their device and
// runs its implementation, or throws Unsupported when that backend has none.
#pragma once

#include "wsi/ops/basic.h"
#include "wsi/ops/attention.h"
#include "wsi/ops/layers.h"
#include "wsi/ops/loss.h"
#include "wsi/ops/moe.h"
#include "wsi/ops/qwen3.h"

namespace wsi {

// X(name, Args): every op, once. Adding an op: its Args in wsi/ops/<family>.h, a line here,
// an implementation in native/cpu/ (required) and native/cuda/ (when written).
#define WSI_OPS(X)                              \
  X(matmul, MatmulArgs)                         \
  X(add, AddArgs)                               \
  X(scale, ScaleArgs)                           \
  X(softmax, SoftmaxArgs)                       \
  X(softmax_backward, SoftmaxBackwardArgs)      \
  X(sum_rows, SumRowsArgs)                      \
  X(attention, AttentionArgs)                   \
  X(attention_backward, AttentionBackwardArgs)  \
  X(attention_decode, AttentionDecodeArgs)      \
  X(gelu, GeluArgs)                             \
  X(gelu_backward, GeluBackwardArgs)            \
  X(layer_norm, LayerNormArgs)                  \
  X(layer_norm_backward, LayerNormBackwardArgs) \
  X(dropout, DropoutArgs)                       \
  X(matmul_bias_gelu, MatmulBiasGeluArgs)       \
  X(swap_axes01, SwapAxes01Args)                \
  X(gather_rows, GatherRowsArgs)                \
  X(scatter_rows, ScatterRowsArgs)              \
  X(moe_route, MoeRouteArgs)                    \
  X(moe_route_backward, MoeRouteBackwardArgs)   \
  X(moe_slot_mean, MoeSlotMeanArgs)             \
  X(moe_slot_mean_backward, MoeSlotMeanBackwardArgs) \
  X(linear_cross_entropy, LinearCrossEntropyArgs) \
  X(rms_norm, RmsNormArgs)                      \
  X(rms_norm_backward, RmsNormBackwardArgs)     \
  X(rope, RopeArgs)                             \
  X(swiglu, SwigluArgs)                         \
  X(swiglu_backward, SwigluBackwardArgs)        \
  X(embedding, EmbeddingArgs)                   \
  X(embedding_backward, EmbeddingBackwardArgs)  \
  X(adamw, AdamwArgs)                           \
  X(sum_squares, SumSquaresArgs)               \
  X(put_rows, PutRowsArgs)                      \
  X(fill, FillArgs)

// What an op implementation gets besides its arguments.
struct ExecContext {
  Device device;
  void* stream = nullptr;  // cudaStream_t on CUDA; nullptr is the default stream
};

// A backend's implementations; nullptr where it has none.
struct OpTable {
#define WSI_OP_SLOT(name, Args) void (*name)(const Args&, const ExecContext&) = nullptr;
  WSI_OPS(WSI_OP_SLOT)
#undef WSI_OP_SLOT
};

const OpTable& cpu_ops();
const OpTable* cuda_ops();  // nullptr when the CUDA backend is not compiled in

namespace ops {
#define WSI_OP_DECL(name, Args) void name(const Args& args);
WSI_OPS(WSI_OP_DECL)
#undef WSI_OP_DECL

// Whether `device`'s backend implements the op called `name` (false for unknown names).
bool supports(const char* name, Device device);
}  // namespace ops

}  // namespace wsi

// Arguments of the fused linear cross-entropy: from final hidden states and the LM head straight
// to the loss, never holding the logits of more than one chunk of tokens.
#pragma once

#include "wsi/tensor.h"

namespace wsi {

// The label of a token that carries no loss (Hugging Face's ignore_index).
constexpr int32_t kIgnoreLabel = -100;

// For tokens t with labels[t] != -100, logits_t = hidden[t, :] · weightᵀ (V):
//   loss  = Σ_t (logsumexp(logits_t) − logits_t[labels[t]])   (1) f32, overwritten
//   count = #{t : labels[t] != -100}                            (1) f32, overwritten
//   token_loss (T) f32, when given: each token's term of the loss, 0 for ignored tokens
//              (overwritten; Hugging Face's reduction='none')
// and, when given, the gradients of grad_scale · loss:
//   dhidden (T, H) = grad_scale · (softmax(logits_t) − onehot(labels[t])) · weight   (overwrite;
//                    0 for ignored tokens)
//   dweight (V, H) += grad_scale · Σ_t (softmax(logits_t) − onehot)ᵀ · hidden[t, :]  (accumulate)
// hidden (T, H), weight (V, H) (the tied embedding), labels (T) i32 in [0, V) or -100.
// workspace (≥ chunk, V) f32 holds one chunk's logits; chunk tokens are done at a time (0: the
// workspace's rows). Log-sum-exp is in f32; a chunk or batch with no labels gives 0, not NaN.
// The CUDA backend, given bf16 hidden and weight, keeps the chunk's softmax − onehot in bf16
// beside its logits in the workspace (so a chunk is then at most 2/3 of the workspace's rows)
// and never waits for the device: a label out of range makes the loss NaN there, where the CPU
// backend raises ShapeMismatch naming it.
struct LinearCrossEntropyArgs {
  Tensor loss, count, token_loss, dhidden, dweight, hidden, weight, labels, workspace;
  int64_t chunk = 0;
  float grad_scale = 1.0f;

  template <class V>
  void visit(V& v) {
    v.output("loss", loss);
    v.output("count", count);
    v.optional("tokenLoss", token_loss);
    v.optional("dhidden", dhidden);
    v.optional("dweight", dweight);
    v.input("hidden", hidden);
    v.input("weight", weight);
    v.input("labels", labels);
    v.input("workspace", workspace);
    v.integer("chunk", chunk);
    v.number("gradScale", grad_scale);
  }
  void validate() const;
  int64_t chunk_rows() const { return chunk > 0 ? chunk : workspace.dim(0); }
};

}  // namespace wsi

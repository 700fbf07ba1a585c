// Arguments of the MoE token compressor's routing ops, over a ragged batch of
// slides: N patches of all slides concatenated, slide s owning rows offsets[s] .. offsets[s+1).
// The experts themselves are ordinary layer ops (matmul, gelu, dropout, layer_norm).
#pragma once

#include "wsi/tensor.h"

namespace wsi {

// The most slots (K) the routing kernels support.
constexpr int64_t kMaxMoeSlots = 64;

// Gate routing, from the gate's logits (N, K):
//   z = logits + noise · ε(seed, n·K + k)   (ε standard normal, wsi/counter_rng.h; noise 0 in
//                                            inference)
//   probs = softmax_k(z)                                            (N, K) f32
//   weights[n, k] = probs[n, k] if k is among patch n's top_k slots, else 0   (N, K) f32
//     (ties go to the lower slot index)
//   slot_load[k] = #{n : k in top_k(n)} / (N · top_k)               (K) f32   (f_k)
//   slot_prob[k] = (1/N) Σₙ probs[n, k]                             (K) f32   (P_k)
//   aux_loss = K · Σ_k slot_load[k] · slot_prob[k]                  (1) f32
// aux_loss is the Switch Transformer load-balancing loss (Fedus et al. 2021, eq. 4), with f_k
// counting all top_k choices of the whole batch; it is 1 when routing is perfectly balanced.
// A logit that is NaN or ±∞ is a FormatError naming its patch row and, when the optional
// offsets (S + 1) i32 of the batch's slides are given, its slide (non_finite_gate_error).
struct MoeRouteArgs {
  Tensor probs, weights, slot_load, slot_prob, aux_loss, logits, offsets;
  int64_t top_k = 2;
  float noise = 0.0f;
  int64_t seed = 0;

  template <class V>
  void visit(V& v) {
    v.output("probs", probs);
    v.output("weights", weights);
    v.output("slotLoad", slot_load);
    v.output("slotProb", slot_prob);
    v.output("auxLoss", aux_loss);
    v.input("logits", logits);
    v.optional("offsets", offsets);
    v.integer("topK", top_k);
    v.number("noise", noise);
    v.integer("seed", seed);
  }
  void validate() const;
};

// The error for a non-finite gate logit at (row, slot): names the slide when offsets (slides + 1
// entries, on the host; null when not given) place the row in one.
[[noreturn]] void non_finite_gate_error(int64_t row, int64_t slot, float value, const int32_t* offsets,
                                        int64_t slides);

// Backward of moe_route to the logits (overwrite), slot_load held constant (it is a count):
//   dp[n, k] = [k in top_k(n)] · dweights[n, k] + aux_grad · K · slot_load[k] / N
//   dlogits = probs ⊙ (dp − Σ_k probs·dp)
// top_k(n) is recomputed from probs exactly as the forward chose it.
struct MoeRouteBackwardArgs {
  Tensor dlogits, probs, dweights, slot_load;
  int64_t top_k = 2;
  float aux_grad = 0.0f;

  template <class V>
  void visit(V& v) {
    v.output("dlogits", dlogits);
    v.input("probs", probs);
    v.input("dweights", dweights);
    v.input("slotLoad", slot_load);
    v.integer("topK", top_k);
    v.number("auxGrad", aux_grad);
  }
  void validate() const;
};

// Weighted mean of each slide's patches per slot, slot-major:
//   denom[k, s] = Σ_{n in s} weights[n, k] + 1e-9                  (K, S) f32
//   slots[k, s, :] = Σ_{n in s} weights[n, k] · x[n, :] / denom[k, s]   (K, S, D) f32
// x (N, D), weights (N, K) f32, offsets (S + 1) i32 (offsets[0] = 0, offsets[S] = N). A slide
// without patches is an error naming it.
struct MoeSlotMeanArgs {
  Tensor slots, denom, x, weights, offsets;

  template <class V>
  void visit(V& v) {
    v.output("slots", slots);
    v.output("denom", denom);
    v.input("x", x);
    v.input("weights", weights);
    v.input("offsets", offsets);
  }
  void validate() const;
};

// Backward of moe_slot_mean (both outputs overwritten), for patch n of slide s:
//   dx[n, :] = Σ_k weights[n, k] / denom[k, s] · dslots[k, s, :]
//   dweights[n, k] = dslots[k, s, :] · (x[n, :] − slots[k, s, :]) / denom[k, s]
struct MoeSlotMeanBackwardArgs {
  Tensor dx, dweights, dslots, slots, denom, x, weights, offsets;

  template <class V>
  void visit(V& v) {
    v.output("dx", dx);
    v.output("dweights", dweights);
    v.input("dslots", dslots);
    v.input("slots", slots);
    v.input("denom", denom);
    v.input("x", x);
    v.input("weights", weights);
    v.input("offsets", offsets);
  }
  void validate() const;
};

}  // namespace wsi

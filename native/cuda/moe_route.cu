// MoE gate routing on the GPU (wsi/ops/moe.h), one thread per patch:
//   z = logits + noise·ε(seed, n·K + k); probs = softmax_k(z); weights = probs on the top_k slots
//   slot_load[k] = #chosen(k) / (N·top_k), slot_prob[k] = mean_n probs[n, k],
//   aux_loss = K · Σ_k slot_load[k]·slot_prob[k]
// Per-slot counts and sums are reduced in shared memory per block, then added to slot_load /
// slot_prob (zeroed first); a one-block kernel turns them into fractions and the loss.
// Backward, one thread per patch (overwrite):
//   dp = [chosen]·dweights + aux_grad·K·slot_load/N;  dlogits = probs ⊙ (dp − Σ_k probs·dp)
#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "wsi/counter_rng.h"
#include "wsi/moe_math.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kSlots = int(kMaxMoeSlots);

// probs, weights: (N, K) f32; slot_load, slot_prob: (K) f32 raw sums; logits: (N, K).
__global__ void moe_route_kernel(float* probs, float* weights, float* slot_load, float* slot_prob, const void* logits,
                                 DType logits_dtype, int64_t n, int64_t k, int64_t top_k, float noise, uint64_t seed) {
  __shared__ float block_load[kSlots], block_prob[kSlots];
  for (int j = threadIdx.x; j < k; j += blockDim.x) block_load[j] = block_prob[j] = 0.0f;
  __syncthreads();
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row < n) {
    float p[kSlots];
    float max = -FLT_MAX;
    for (int64_t j = 0; j < k; ++j) {
      float z = load_f32(logits, logits_dtype, row * k + j);
      if (noise > 0.0f) z += noise * counter_normal(seed, uint64_t(row * k + j));
      p[j] = z;
      max = fmaxf(max, z);
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) sum += (p[j] = expf(p[j] - max));
    for (int64_t j = 0; j < k; ++j) p[j] /= sum;
    for (int64_t j = 0; j < k; ++j) {
      const bool chosen = in_top_k(p, k, j, top_k);
      probs[row * k + j] = p[j];
      weights[row * k + j] = chosen ? p[j] : 0.0f;
      if (chosen) atomicAdd(&block_load[j], 1.0f);
      atomicAdd(&block_prob[j], p[j]);
    }
  }
  __syncthreads();
  for (int j = threadIdx.x; j < k; j += blockDim.x) {
    atomicAdd(&slot_load[j], block_load[j]);
    atomicAdd(&slot_prob[j], block_prob[j]);
  }
}

// One block of kSlots threads: raw sums → fractions, and aux_loss (1).
__global__ void moe_route_finish_kernel(float* slot_load, float* slot_prob, float* aux_loss, int64_t n, int64_t k,
                                        int64_t top_k) {
  __shared__ float scratch[32];
  float term = 0.0f;
  if (threadIdx.x < k) {
    const float f = slot_load[threadIdx.x] / float(n * top_k), pm = slot_prob[threadIdx.x] / float(n);
    slot_load[threadIdx.x] = f;
    slot_prob[threadIdx.x] = pm;
    term = f * pm;
  }
  const float total = block_sum(term, scratch);
  if (threadIdx.x == 0) aux_loss[0] = float(k) * total;
}

// dlogits: (N, K); probs: (N, K) f32; dweights: (N, K); slot_load: (K) f32.
__global__ void moe_route_backward_kernel(void* dlogits, DType dl_dtype, const float* probs, const void* dweights,
                                          DType dw_dtype, const float* slot_load, int64_t n, int64_t k, int64_t top_k,
                                          float aux_scale) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= n) return;
  float p[kSlots], dp[kSlots];
  for (int64_t j = 0; j < k; ++j) p[j] = probs[row * k + j];
  float dot = 0.0f;
  for (int64_t j = 0; j < k; ++j) {
    const float g = in_top_k(p, k, j, top_k) ? load_f32(dweights, dw_dtype, row * k + j) : 0.0f;
    dp[j] = g + aux_scale * slot_load[j];
    dot += p[j] * dp[j];
  }
  for (int64_t j = 0; j < k; ++j) store_f32(dlogits, dl_dtype, row * k + j, p[j] * (dp[j] - dot));
}

}  // namespace

void moe_route(const MoeRouteArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.logits.dim(0), k = args.logits.dim(1);
  float* load = args.slot_load.as<float>();
  float* prob = args.slot_prob.as<float>();
  WSI_CUDA_CHECK(cudaMemsetAsync(load, 0, size_t(k) * sizeof(float), stream));
  WSI_CUDA_CHECK(cudaMemsetAsync(prob, 0, size_t(k) * sizeof(float), stream));
  const int64_t blocks = (n + kThreads - 1) / kThreads;  // n >= 1: validate() requires a patch
  WSI_CHECK(blocks <= INT32_MAX, ErrorCode::Unsupported, "moe_route on CUDA: too many patches (", n, ")");
  moe_route_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(args.probs.as<float>(), args.weights.as<float>(), load,
                                                              prob, args.logits.data, args.logits.dtype, n, k,
                                                              args.top_k, args.noise, uint64_t(args.seed));
  WSI_CUDA_CHECK_LAUNCH();
  moe_route_finish_kernel<<<1, kSlots, 0, stream>>>(load, prob, args.aux_loss.as<float>(), n, k, args.top_k);
  WSI_CUDA_CHECK_LAUNCH();
}

void moe_route_backward(const MoeRouteBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.probs.dim(0), k = args.probs.dim(1);
  if (n == 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  WSI_CHECK(blocks <= INT32_MAX, ErrorCode::Unsupported, "moe_route_backward on CUDA: too many patches (", n, ")");
  moe_route_backward_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(
      args.dlogits.data, args.dlogits.dtype, args.probs.as<float>(), args.dweights.data, args.dweights.dtype,
      args.slot_load.as<float>(), n, k, args.top_k, args.aux_grad * float(k) / float(n));
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

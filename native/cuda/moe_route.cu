// MoE gate routing on the GPU (wsi/ops/moe.h), one warp per patch, lane j holding slots j and
// j + 32 (K ≤ 64) in registers:
//   z = logits + noise·ε(seed, n·K + k); probs = softmax_k(z) (warp max and sum);
//   slot k is in the top_k when fewer than top_k slots rank above it (the rule of moe_math.h:
//   higher probability, ties to the lower index), counted by broadcasting each slot's
//   probability to the warp; weights = probs on the top_k slots
//   slot_load[k] = #chosen(k) / (N·top_k), slot_prob[k] = mean_n probs[n, k],
//   aux_loss = K · Σ_k slot_load[k]·slot_prob[k]
// A block of 8 warps takes 256 consecutive patches; its per-slot sums (warps added in order) go
// to a partial per block, and a one-block kernel adds the blocks in order: the statistics and
// the loss have the same bits on every run. A non-finite logit is recorded (the lowest row, by
// an integer atomicMin) and is a FormatError after the kernel; that check is the op's one wait.
// Backward, the same warp per patch (overwrite):
//   dp = [chosen]·dweights + aux_grad·K·slot_load/N;  dlogits = probs ⊙ (dp − Σ_k probs·dp)
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "stream_buffer.h"
#include "wsi/counter_rng.h"

namespace wsi::cuda {
namespace {

constexpr int kWarps = 8, kThreads = kWarps * 32;
constexpr int kRowsPerBlock = 256;  // 32 patches per warp
static_assert(kMaxMoeSlots <= 64, "a lane holds two slots");

// The lane's two slots' probabilities p0 (slot lane), p1 (slot lane + 32); absent slots hold
// -1, below every probability. Returns how many slots rank above each, as (above0, above1).
__device__ __forceinline__ int2 ranks_above(float p0, float p1, int lane, int64_t k) {
  int2 above = make_int2(0, 0);
  for (int i = 0; i < k; ++i) {
    const float q = __shfl_sync(0xffffffffu, i < 32 ? p0 : p1, i % 32);
    above.x += q > p0 || (q == p0 && i < lane);
    above.y += q > p1 || (q == p1 && i < lane + 32);
  }
  return above;
}

// probs, weights: (N, K) f32; partial: (blocks, 2, K) f32 chosen-counts and probability sums;
// bad_row: the lowest row with a non-finite logit (UINT_MAX if none); logits: (N, K).
__global__ void __launch_bounds__(kThreads)
    moe_route_kernel(float* probs, float* weights, float* partial, unsigned* bad_row, const void* logits, DType logits_dtype,
                     int64_t n, int64_t k, int64_t top_k, float noise, uint64_t seed) {
  __shared__ float warp_sums[kWarps][2][64];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const bool has0 = lane < k, has1 = lane + 32 < k;
  float load0 = 0.0f, load1 = 0.0f, prob0 = 0.0f, prob1 = 0.0f;
  const int64_t first = int64_t(blockIdx.x) * kRowsPerBlock + warp * (kRowsPerBlock / kWarps);
  const int64_t last = min(n, first + kRowsPerBlock / kWarps);
  for (int64_t row = first; row < last; ++row) {
    const int64_t i0 = row * k + lane, i1 = i0 + 32;
    float z0 = has0 ? load_f32(logits, logits_dtype, i0) : 0.0f;
    float z1 = has1 ? load_f32(logits, logits_dtype, i1) : 0.0f;
    if (__any_sync(0xffffffffu, !isfinite(z0) || !isfinite(z1))) {
      if (lane == 0) atomicMin(bad_row, unsigned(row));
      continue;
    }
    if (noise > 0.0f) {
      if (has0) z0 += noise * counter_normal(seed, uint64_t(i0));
      if (has1) z1 += noise * counter_normal(seed, uint64_t(i1));
    }
    const float max = warp_max(fmaxf(has0 ? z0 : -FLT_MAX, has1 ? z1 : -FLT_MAX));
    const float e0 = has0 ? expf(z0 - max) : 0.0f, e1 = has1 ? expf(z1 - max) : 0.0f;
    const float sum = warp_sum(e0 + e1);
    const float p0 = has0 ? e0 / sum : -1.0f, p1 = has1 ? e1 / sum : -1.0f;
    const int2 above = ranks_above(p0, p1, lane, k);
    if (has0) {
      const bool chosen = above.x < top_k;
      probs[i0] = p0;
      weights[i0] = chosen ? p0 : 0.0f;
      load0 += chosen;
      prob0 += p0;
    }
    if (has1) {
      const bool chosen = above.y < top_k;
      probs[i1] = p1;
      weights[i1] = chosen ? p1 : 0.0f;
      load1 += chosen;
      prob1 += p1;
    }
  }
  warp_sums[warp][0][lane] = load0;
  warp_sums[warp][0][lane + 32] = load1;
  warp_sums[warp][1][lane] = prob0;
  warp_sums[warp][1][lane + 32] = prob1;
  __syncthreads();
  for (int i = threadIdx.x; i < 2 * k; i += blockDim.x) {
    const int which = i / int(k), slot = i % int(k);
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) total += warp_sums[w][which][slot];
    partial[(int64_t(blockIdx.x) * 2 + which) * k + slot] = total;
  }
}

// One block of 64 threads: the blocks' partials in order → fractions, and aux_loss (1).
__global__ void moe_route_finish_kernel(float* slot_load, float* slot_prob, float* aux_loss, const float* partial,
                                        int64_t blocks, int64_t n, int64_t k, int64_t top_k) {
  __shared__ float scratch[32];
  float term = 0.0f;
  if (threadIdx.x < k) {
    float load = 0.0f, prob = 0.0f;
    for (int64_t b = 0; b < blocks; ++b) {
      load += partial[(b * 2) * k + threadIdx.x];
      prob += partial[(b * 2 + 1) * k + threadIdx.x];
    }
    const float f = load / float(n * top_k), pm = prob / float(n);
    slot_load[threadIdx.x] = f;
    slot_prob[threadIdx.x] = pm;
    term = f * pm;
  }
  const float total = block_sum(term, scratch);
  if (threadIdx.x == 0) aux_loss[0] = float(k) * total;
}

// dlogits: (N, K); probs: (N, K) f32; dweights: (N, K); slot_load: (K) f32. A warp per patch.
__global__ void __launch_bounds__(kThreads)
    moe_route_backward_kernel(void* dlogits, DType dl_dtype, const float* probs, const void* dweights, DType dw_dtype,
                              const float* slot_load, int64_t n, int64_t k, int64_t top_k, float aux_scale) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kWarps + warp;
  if (row >= n) return;  // the whole warp leaves together
  const bool has0 = lane < k, has1 = lane + 32 < k;
  const int64_t i0 = row * k + lane, i1 = i0 + 32;
  const float p0 = has0 ? probs[i0] : -1.0f, p1 = has1 ? probs[i1] : -1.0f;
  const int2 above = ranks_above(p0, p1, lane, k);
  const float dp0 = has0 ? (above.x < top_k ? load_f32(dweights, dw_dtype, i0) : 0.0f) + aux_scale * slot_load[lane] : 0.0f;
  const float dp1 =
      has1 ? (above.y < top_k ? load_f32(dweights, dw_dtype, i1) : 0.0f) + aux_scale * slot_load[lane + 32] : 0.0f;
  const float dot = warp_sum((has0 ? p0 * dp0 : 0.0f) + (has1 ? p1 * dp1 : 0.0f));
  if (has0) store_f32(dlogits, dl_dtype, i0, p0 * (dp0 - dot));
  if (has1) store_f32(dlogits, dl_dtype, i1, p1 * (dp1 - dot));
}

// After the routing kernel: the lowest row with a non-finite logit, if any, as the op's error.
void check_finite(const MoeRouteArgs& args, const unsigned* bad_row_device, cudaStream_t stream) {
  unsigned bad_row = UINT_MAX;
  WSI_CUDA_CHECK(cudaMemcpyAsync(&bad_row, bad_row_device, sizeof(unsigned), cudaMemcpyDeviceToHost, stream));
  WSI_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (bad_row == UINT_MAX) return;
  const int64_t k = args.logits.dim(1);
  const size_t row_bytes = size_t(k) * dtype_size(args.logits.dtype);
  std::vector<uint16_t> raw(row_bytes / 2 + 1);
  WSI_CUDA_CHECK(cudaMemcpy(raw.data(), static_cast<const char*>(args.logits.data) + size_t(bad_row) * row_bytes,
                            row_bytes, cudaMemcpyDeviceToHost));
  std::vector<float> row(static_cast<size_t>(k));
  for (size_t j = 0; j < row.size(); ++j) {
    switch (args.logits.dtype) {
      case DType::BF16: row[j] = bf16_to_f32(raw[j]); break;
      case DType::F16: row[j] = f16_to_f32(raw[j]); break;
      default: std::memcpy(&row[j], raw.data() + 2 * j, sizeof(float)); break;
    }
  }
  int64_t slot = 0;
  while (slot + 1 < k && std::isfinite(row[size_t(slot)])) ++slot;
  std::vector<int32_t> offsets;
  if (args.offsets.defined()) {
    offsets.resize(size_t(args.offsets.dim(0)));
    WSI_CUDA_CHECK(cudaMemcpy(offsets.data(), args.offsets.data, offsets.size() * sizeof(int32_t), cudaMemcpyDeviceToHost));
  }
  non_finite_gate_error(bad_row, slot, row[size_t(slot)], offsets.empty() ? nullptr : offsets.data(),
                        int64_t(offsets.size()) - 1);
}

}  // namespace

void moe_route(const MoeRouteArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.logits.dim(0), k = args.logits.dim(1);
  const int64_t blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;  // n >= 1: validate() requires a patch
  WSI_CHECK(n < INT_MAX && blocks <= INT32_MAX, ErrorCode::Unsupported, "moe_route on CUDA: too many patches (", n, ")");
  StreamBuffer partial(size_t(blocks * 2 * k) * sizeof(float) + sizeof(unsigned), stream);
  unsigned* bad_row = reinterpret_cast<unsigned*>(partial.as<float>() + blocks * 2 * k);
  WSI_CUDA_CHECK(cudaMemsetAsync(bad_row, 0xff, sizeof(unsigned), stream));  // UINT_MAX: no such row
  moe_route_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(args.probs.as<float>(), args.weights.as<float>(),
                                                              partial.as<float>(), bad_row, args.logits.data,
                                                              args.logits.dtype, n, k, args.top_k, args.noise,
                                                              uint64_t(args.seed));
  WSI_CUDA_CHECK_LAUNCH();
  moe_route_finish_kernel<<<1, 64, 0, stream>>>(args.slot_load.as<float>(), args.slot_prob.as<float>(),
                                                args.aux_loss.as<float>(), partial.as<float>(), blocks, n, k, args.top_k);
  WSI_CUDA_CHECK_LAUNCH();
  check_finite(args, bad_row, stream);
}

void moe_route_backward(const MoeRouteBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.probs.dim(0), k = args.probs.dim(1);
  if (n == 0) return;
  const int64_t blocks = (n + kWarps - 1) / kWarps;
  WSI_CHECK(blocks <= INT32_MAX, ErrorCode::Unsupported, "moe_route_backward on CUDA: too many patches (", n, ")");
  moe_route_backward_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(
      args.dlogits.data, args.dlogits.dtype, args.probs.as<float>(), args.dweights.data, args.dweights.dtype,
      args.slot_load.as<float>(), n, k, args.top_k, args.aux_grad * float(k) / float(n));
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

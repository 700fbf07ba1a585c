// The MoE compressor's per-slide, per-slot weighted mean of patches on the GPU (wsi/ops/moe.h):
//   denom[k, s] = Σ_{n in s} w[n, k] + 1e-9,  slots[k, s, :] = Σ_{n in s} w[n, k]·x[n, :] / denom[k, s]
// x (N, D), w (N, K) f32, offsets (S + 1) i32, slots (K, S, D) f32, denom (K, S) f32.
// Forward, in two kernels after zeroing slots and denom:
//   partial sums: block (column tile of 128, slide s, chunk c of 1024 patches); each thread owns
//     one column d and K f32 accumulators in registers, stepping through its chunk 32 patches at
//     a time with their weights staged in shared memory, then adds them to slots (atomically;
//     the chunk-0 column-0 block's threads also add Σ w to denom). x is read exactly once, and
//     a slide of 40 000 patches still spreads over 8 × 40 blocks.
//   normalize: slots[k, s, :] /= denom[k, s] + 1e-9; then denom += 1e-9.
// Backward (overwrite), one block per patch n of slide s:
//   dx[n, :] = Σ_k w[n, k]/denom[k, s] · dslots[k, s, :]
//   dw[n, k] = dslots[k, s, :]·(x[n, :] − slots[k, s, :]) / denom[k, s]   (a warp per slot k)
// The offsets are copied to the host once per call to name an empty slide in the error.
#include <algorithm>
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"

namespace wsi::cuda {
namespace {

constexpr int kColumns = 128;     // partial-sum block: one column per thread
constexpr int kRowTile = 32;      // patches whose weights are staged in shared memory at once
constexpr int kPatchChunk = 1024; // patches per partial-sum block
constexpr int kSlots = int(kMaxMoeSlots);
constexpr int kThreads = 256;
constexpr int kBackwardThreads = 256;
constexpr float kDenomEps = 1e-9f;  // TC-SSA's guard against a slot no patch chose

// slots: (K, S, D) f32 and denom: (K, S) f32, both zeroed before; raw sums are added.
__global__ void moe_slot_sum_kernel(float* slots, float* denom, const void* x, DType x_dtype, const float* w,
                                    const int32_t* offsets, int64_t d, int64_t k, int64_t s) {
  __shared__ float w_tile[kRowTile][kSlots];
  const int64_t slide = blockIdx.y, col = int64_t(blockIdx.x) * kColumns + threadIdx.x;
  const int64_t begin = offsets[slide] + int64_t(blockIdx.z) * kPatchChunk;
  const int64_t end = min(int64_t(offsets[slide + 1]), begin + kPatchChunk);
  if (begin >= end) return;  // this slide has fewer chunks than the largest one
  float acc[kSlots];
#pragma unroll
  for (int j = 0; j < kSlots; ++j) acc[j] = 0.0f;
  float weight_sum = 0.0f;  // thread j < k: Σ w[n, j] over the chunk
  for (int64_t n0 = begin; n0 < end; n0 += kRowTile) {
    const int64_t rows = min(int64_t(kRowTile), end - n0);
    for (int64_t i = threadIdx.x; i < rows * k; i += blockDim.x) w_tile[i / k][i % k] = w[(n0 + i / k) * k + i % k];
    __syncthreads();
    if (threadIdx.x < k)
      for (int64_t r = 0; r < rows; ++r) weight_sum += w_tile[r][threadIdx.x];
    if (col < d) {
      for (int64_t r = 0; r < rows; ++r) {
        const float xv = load_f32(x, x_dtype, (n0 + r) * d + col);
#pragma unroll
        for (int j = 0; j < kSlots; ++j)
          if (j < k) acc[j] += w_tile[r][j] * xv;
      }
    }
    __syncthreads();
  }
  if (blockIdx.x == 0 && threadIdx.x < k) atomicAdd(&denom[threadIdx.x * s + slide], weight_sum);
  if (col >= d) return;
#pragma unroll
  for (int j = 0; j < kSlots; ++j)
    if (j < k) atomicAdd(&slots[(j * s + slide) * d + col], acc[j]);
}

// slots: (K, S, D) f32 /= denom (K, S) + eps, elementwise.
__global__ void moe_slot_normalize_kernel(float* slots, const float* denom, int64_t d, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    slots[i] /= denom[i / d] + kDenomEps;
}

// denom: (K, S) f32 += eps.
__global__ void moe_denom_finish_kernel(float* denom, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    denom[i] += kDenomEps;
}

__global__ void moe_slot_mean_backward_kernel(void* dx, DType dx_dtype, void* dw, DType dw_dtype, const void* dslots,
                                              DType dslots_dtype, const void* slots, DType slots_dtype,
                                              const float* denom, const void* x, DType x_dtype, const float* w,
                                              const int32_t* offsets, int64_t d, int64_t k, int64_t s) {
  __shared__ float scale[kSlots];  // w[n, j] / denom[j, slide]
  __shared__ float inv_denom[kSlots];
  const int64_t n = blockIdx.x;
  int64_t lo = 0, hi = s;  // the slide: offsets[lo] <= n < offsets[lo + 1]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (offsets[mid] <= n) lo = mid; else hi = mid;
  }
  const int64_t slide = lo;
  for (int j = threadIdx.x; j < k; j += blockDim.x) {
    inv_denom[j] = 1.0f / denom[j * s + slide];
    scale[j] = w[n * k + j] * inv_denom[j];
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float g = 0.0f;
    for (int64_t j = 0; j < k; ++j) g += scale[j] * load_f32(dslots, dslots_dtype, (j * s + slide) * d + i);
    store_f32(dx, dx_dtype, n * d + i, g);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int64_t j = warp; j < k; j += warps) {
    const int64_t base = (j * s + slide) * d;
    float dot = 0.0f;
    for (int64_t i = lane; i < d; i += 32)
      dot += load_f32(dslots, dslots_dtype, base + i) * (load_f32(x, x_dtype, n * d + i) - load_f32(slots, slots_dtype, base + i));
    dot = warp_sum(dot);
    if (lane == 0) store_f32(dw, dw_dtype, n * k + j, dot * inv_denom[j]);
  }
}

// Copies the offsets to the host and checks them: from 0 to n, no slide empty. Returns the
// largest slide's patch count.
int64_t check_offsets(const char* op, const Tensor& offsets, int64_t n, cudaStream_t stream) {
  const int64_t s = offsets.dim(0) - 1;
  std::vector<int32_t> host(static_cast<size_t>(s + 1));
  WSI_CUDA_CHECK(cudaMemcpyAsync(host.data(), offsets.data, host.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
  WSI_CUDA_CHECK(cudaStreamSynchronize(stream));
  WSI_CHECK(host[0] == 0 && host[size_t(s)] == n, ErrorCode::ShapeMismatch, op, ": 'offsets' must run from 0 to the ",
            n, " patches of 'x', got ", host[0], " .. ", host[size_t(s)]);
  int64_t largest = 0;
  for (int64_t i = 0; i < s; ++i) {
    WSI_CHECK(host[size_t(i + 1)] > host[size_t(i)], ErrorCode::ShapeMismatch, op, ": slide ", i,
              " has no patches (offsets[", i, "] = ", host[size_t(i)], ", offsets[", i + 1, "] = ", host[size_t(i + 1)], ")");
    largest = std::max<int64_t>(largest, host[size_t(i + 1)] - host[size_t(i)]);
  }
  return largest;
}

}  // namespace

void moe_slot_mean(const MoeSlotMeanArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.dim(0), d = args.x.dim(1), k = args.weights.dim(1), s = args.offsets.dim(0) - 1;
  const int64_t largest = check_offsets("moe_slot_mean", args.offsets, n, stream);
  WSI_CHECK(s <= 65535, ErrorCode::Unsupported, "moe_slot_mean on CUDA: at most 65535 slides per call, got ", s);
  const int64_t chunks = (largest + kPatchChunk - 1) / kPatchChunk;
  WSI_CHECK(chunks <= 65535, ErrorCode::Unsupported, "moe_slot_mean on CUDA: a slide of ", largest, " patches is too large");
  float* slots = args.slots.as<float>();
  float* denom = args.denom.as<float>();
  WSI_CUDA_CHECK(cudaMemsetAsync(slots, 0, args.slots.nbytes(), stream));
  WSI_CUDA_CHECK(cudaMemsetAsync(denom, 0, args.denom.nbytes(), stream));
  if (d == 0) return;
  const dim3 grid(unsigned((d + kColumns - 1) / kColumns), unsigned(s), unsigned(chunks));
  moe_slot_sum_kernel<<<grid, kColumns, 0, stream>>>(slots, denom, args.x.data, args.x.dtype, args.weights.as<float>(),
                                                     args.offsets.as<int32_t>(), d, k, s);
  WSI_CUDA_CHECK_LAUNCH();
  moe_slot_normalize_kernel<<<blocks_for(k * s * d, kThreads), kThreads, 0, stream>>>(slots, denom, d, k * s * d);
  WSI_CUDA_CHECK_LAUNCH();
  moe_denom_finish_kernel<<<blocks_for(k * s, kThreads), kThreads, 0, stream>>>(denom, k * s);
  WSI_CUDA_CHECK_LAUNCH();
}

void moe_slot_mean_backward(const MoeSlotMeanBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.dim(0), d = args.x.dim(1), k = args.weights.dim(1), s = args.offsets.dim(0) - 1;
  check_offsets("moe_slot_mean_backward", args.offsets, n, stream);
  WSI_CHECK(n <= INT32_MAX, ErrorCode::Unsupported, "moe_slot_mean_backward on CUDA: too many patches (", n, ")");
  moe_slot_mean_backward_kernel<<<unsigned(n), kBackwardThreads, 0, stream>>>(
      args.dx.data, args.dx.dtype, args.dweights.data, args.dweights.dtype, args.dslots.data, args.dslots.dtype,
      args.slots.data, args.slots.dtype, args.denom.as<float>(), args.x.data, args.x.dtype, args.weights.as<float>(),
      args.offsets.as<int32_t>(), d, k, s);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// The MoE compressor's per-slide, per-slot weighted mean of patches on the GPU (wsi/ops/moe.h):
//   denom[k, s] = Σ_{n in s} w[n, k] + 1e-9,  slots[k, s, :] = Σ_{n in s} w[n, k]·x[n, :] / denom[k, s]
// x (N, D), w (N, K) f32, offsets (S + 1) i32, slots (K, S, D), denom (K, S) f32.
// Forward: block (column tile of 128, slide s); each thread owns one column d and K f32
// accumulators in registers, stepping through the slide's patches 32 at a time with their
// weights staged in shared memory. One pass over x: it is read exactly once.
// Backward (overwrite), one block per patch n of slide s:
//   dx[n, :] = Σ_k w[n, k]/denom[k, s] · dslots[k, s, :]
//   dw[n, k] = dslots[k, s, :]·(x[n, :] − slots[k, s, :]) / denom[k, s]   (a warp per slot k)
// The offsets are copied to the host once per call to name an empty slide in the error.
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"

namespace wsi::cuda {
namespace {

constexpr int kColumns = 128;  // forward block: one column per thread
constexpr int kRowTile = 32;   // patches whose weights are staged in shared memory at once
constexpr int kSlots = int(kMaxMoeSlots);
constexpr int kBackwardThreads = 256;
constexpr double kDenomEps = 1e-9;  // TC-SSA's guard against a slot no patch chose

__global__ void moe_slot_mean_kernel(void* slots, DType slots_dtype, float* denom, const void* x, DType x_dtype,
                                     const float* w, const int32_t* offsets, int64_t d, int64_t k, int64_t s) {
  __shared__ float w_tile[kRowTile][kSlots];
  __shared__ float slot_denom[kSlots];
  const int64_t slide = blockIdx.y, col = int64_t(blockIdx.x) * kColumns + threadIdx.x;
  const int64_t begin = offsets[slide], end = offsets[slide + 1];
  float acc[kSlots];
#pragma unroll
  for (int j = 0; j < kSlots; ++j) acc[j] = 0.0f;
  float weight_sum = 0.0f;  // thread j < k: Σ w[n, j] over the slide
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
  if (threadIdx.x < k) {
    slot_denom[threadIdx.x] = float(double(weight_sum) + kDenomEps);
    if (blockIdx.x == 0) denom[threadIdx.x * s + slide] = slot_denom[threadIdx.x];
  }
  __syncthreads();
  if (col >= d) return;
#pragma unroll
  for (int j = 0; j < kSlots; ++j)
    if (j < k) store_f32(slots, slots_dtype, (j * s + slide) * d + col, acc[j] / slot_denom[j]);
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

// Copies the offsets to the host and checks them: from 0 to n, no slide empty.
void check_offsets(const char* op, const Tensor& offsets, int64_t n, cudaStream_t stream) {
  const int64_t s = offsets.dim(0) - 1;
  std::vector<int32_t> host(static_cast<size_t>(s + 1));
  WSI_CUDA_CHECK(cudaMemcpyAsync(host.data(), offsets.data, host.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
  WSI_CUDA_CHECK(cudaStreamSynchronize(stream));
  WSI_CHECK(host[0] == 0 && host[size_t(s)] == n, ErrorCode::ShapeMismatch, op, ": 'offsets' must run from 0 to the ",
            n, " patches of 'x', got ", host[0], " .. ", host[size_t(s)]);
  for (int64_t i = 0; i < s; ++i)
    WSI_CHECK(host[size_t(i + 1)] > host[size_t(i)], ErrorCode::ShapeMismatch, op, ": slide ", i,
              " has no patches (offsets[", i, "] = ", host[size_t(i)], ", offsets[", i + 1, "] = ", host[size_t(i + 1)], ")");
}

}  // namespace

void moe_slot_mean(const MoeSlotMeanArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.dim(0), d = args.x.dim(1), k = args.weights.dim(1), s = args.offsets.dim(0) - 1;
  check_offsets("moe_slot_mean", args.offsets, n, stream);
  WSI_CHECK(s <= 65535, ErrorCode::Unsupported, "moe_slot_mean on CUDA: at most 65535 slides per call, got ", s);
  const dim3 grid(unsigned(d > 0 ? (d + kColumns - 1) / kColumns : 1), unsigned(s));
  moe_slot_mean_kernel<<<grid, kColumns, 0, stream>>>(args.slots.data, args.slots.dtype, args.denom.as<float>(),
                                                      args.x.data, args.x.dtype, args.weights.as<float>(),
                                                      args.offsets.as<int32_t>(), d, k, s);
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

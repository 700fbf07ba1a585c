// The MoE compressor's per-slide, per-slot weighted mean of patches on the GPU (wsi/ops/moe.h):
//   denom[k, s] = Σ_{n in s} w[n, k] + 1e-9,  slots[k, s, :] = Σ_{n in s} w[n, k]·x[n, :] / denom[k, s]
// x (N, D), w (N, K) f32, offsets (S + 1) i32, slots (K, S, D) f32, denom (K, S) f32.
// Forward, in two kernels:
//   partial sums: block (column tile of 128, slide s, chunk c of 1024 patches); each thread owns
//     one column d and K f32 accumulators in registers (the kernel is instantiated for K ≤ 16,
//     32, 64, so its loops are as long as the slots), stepping through its chunk 32 patches at a
//     time with their weights staged in shared memory; it writes its chunk's sums (and, in
//     column tile 0, Σ w) to a partial per chunk. x is read exactly once, and a slide of 40 000
//     patches still spreads over 8 × 40 blocks.
//   normalize: slots = Σ over the slide's chunks, in order, / (denom + 1e-9): the same bits on
//     every run. With one chunk per slide, the partials are slots and denom themselves.
// Backward (overwrite): block (32 patches of slide s), stepping through D in tiles of 64 with
//   that slide's dslots[:, s, tile] (K × 64), the patches' x tile and their w/denom in shared
//   memory, so dslots is read once per 32 patches:
//   dx[n, :] = Σ_k w[n, k]/denom[k, s] · dslots[k, s, :]
//   dw[n, k] = (dslots[k, s, :]·x[n, :] − c[k, s]) / denom[k, s],  c[k, s] = dslots[k, s, :]·slots[k, s, :]
//   (c first, a warp per (k, s)).
// The offsets are copied to the host once per call to name an empty slide in the error.
#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "stream_buffer.h"

namespace wsi::cuda {
namespace {

constexpr int kColumns = 128;     // partial-sum block: one column per thread
constexpr int kRowTile = 32;      // patches whose weights are staged in shared memory at once
constexpr int kPatchChunk = 1024; // patches per partial-sum block
constexpr int kThreads = 256;
constexpr float kDenomEps = 1e-9f;  // TC-SSA's guard against a slot no patch chose

// Chunk c's sums: partial (chunks, K, S, D) f32 and partial_denom (chunks, K, S) f32. kSlots ≥ k.
template <int kSlots>
__global__ void __launch_bounds__(kColumns)
    moe_slot_sum_kernel(float* partial, float* partial_denom, const void* x, DType x_dtype, const float* w,
                        const int32_t* offsets, int64_t d, int64_t k, int64_t s) {
  __shared__ float w_tile[kRowTile][kSlots];
  const int64_t slide = blockIdx.y, chunk = blockIdx.z, col = int64_t(blockIdx.x) * kColumns + threadIdx.x;
  const int64_t begin = offsets[slide] + chunk * kPatchChunk;
  const int64_t end = min(int64_t(offsets[slide + 1]), begin + kPatchChunk);
  if (begin >= end) return;  // this slide has fewer chunks than the largest one
  float acc[kSlots];
#pragma unroll
  for (int j = 0; j < kSlots; ++j) acc[j] = 0.0f;
  float weight_sum = 0.0f;  // thread j < k: Σ w[n, j] over the chunk
  for (int64_t n0 = begin; n0 < end; n0 += kRowTile) {
    const int64_t rows = min(int64_t(kRowTile), end - n0);
    for (int64_t i = threadIdx.x; i < kRowTile * kSlots; i += blockDim.x) {
      const int64_t r = i / kSlots, j = i % kSlots;
      w_tile[r][j] = r < rows && j < k ? w[(n0 + r) * k + j] : 0.0f;  // zeros past k: no effect
    }
    __syncthreads();
    if (threadIdx.x < k)
      for (int64_t r = 0; r < rows; ++r) weight_sum += w_tile[r][threadIdx.x];
    if (col < d) {
      for (int64_t r = 0; r < rows; ++r) {
        const float xv = load_f32(x, x_dtype, (n0 + r) * d + col);
#pragma unroll
        for (int j = 0; j < kSlots; ++j) acc[j] += w_tile[r][j] * xv;
      }
    }
    __syncthreads();
  }
  if (blockIdx.x == 0 && threadIdx.x < k) partial_denom[(chunk * k + threadIdx.x) * s + slide] = weight_sum;
  if (col >= d) return;
#pragma unroll
  for (int j = 0; j < kSlots; ++j)
    if (j < k) partial[((chunk * k + j) * s + slide) * d + col] = acc[j];
}

// slots (K, S, D) = Σ_c partial[c] / (Σ_c partial_denom[c] + eps) over slide s's chunks, in
// order; then (a separate pass, since slots may be partial) denom = Σ_c partial_denom[c] + eps.
__device__ __forceinline__ int64_t slide_chunks(const int32_t* offsets, int64_t slide) {
  return (int64_t(offsets[slide + 1]) - offsets[slide] + kPatchChunk - 1) / kPatchChunk;
}

__global__ void moe_slot_normalize_kernel(float* slots, const float* partial, const float* partial_denom,
                                          const int32_t* offsets, int64_t d, int64_t k, int64_t s) {
  const int64_t count = k * s * d;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ks = i / d, slide = ks % s, chunks = slide_chunks(offsets, slide);
    float sum = 0.0f, weight = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      sum += partial[c * count + i];
      weight += partial_denom[c * k * s + ks];
    }
    slots[i] = sum / (weight + kDenomEps);
  }
}

__global__ void moe_denom_finish_kernel(float* denom, const float* partial_denom, const int32_t* offsets, int64_t k,
                                        int64_t s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < k * s; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t chunks = slide_chunks(offsets, i % s);
    float weight = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) weight += partial_denom[c * k * s + i];
    denom[i] = weight + kDenomEps;
  }
}

// c (K, S) f32 = dslots[k, s, :]·slots[k, s, :], a warp per (k, s).
__global__ void moe_slot_dot_kernel(float* c, const void* dslots, DType dslots_dtype, const void* slots,
                                    DType slots_dtype, int64_t d, int64_t pairs) {
  const int64_t pair = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (pair >= pairs) return;  // whole warps leave together
  float dot = 0.0f;
  for (int64_t i = lane; i < d; i += 32)
    dot += load_f32(dslots, dslots_dtype, pair * d + i) * load_f32(slots, slots_dtype, pair * d + i);
  dot = warp_sum(dot);
  if (lane == 0) c[pair] = dot;
}

constexpr int kBackPatches = 32, kBackColumns = 64, kBackThreads = 256;
constexpr int kBackRowsPerThread = kBackPatches * kBackColumns / kBackThreads;  // 8

template <int kSlots>
__global__ void __launch_bounds__(kBackThreads)
    moe_slot_mean_backward_kernel(void* dx, DType dx_dtype, void* dw, DType dw_dtype, const void* dslots,
                                  DType dslots_dtype, const float* c, const float* denom, const void* x, DType x_dtype,
                                  const float* w, const int32_t* offsets, int64_t d, int64_t k, int64_t s) {
  constexpr int kPairs = (kBackPatches * kSlots + kBackThreads - 1) / kBackThreads;  // (patch, slot) per thread
  __shared__ float dslots_tile[kSlots][kBackColumns + 1];  // +1: threads of one column, different slots
  __shared__ float x_tile[kBackPatches][kBackColumns + 1];
  __shared__ float scale[kBackPatches][kSlots];             // w[n, k] / denom[k, s]
  const int64_t slide = blockIdx.y;
  const int64_t first = offsets[slide] + int64_t(blockIdx.x) * kBackPatches;
  const int64_t patches = min(int64_t(kBackPatches), int64_t(offsets[slide + 1]) - first);
  if (patches <= 0) return;  // this slide has fewer tiles than the largest one
  for (int i = threadIdx.x; i < kBackPatches * kSlots; i += kBackThreads) {
    const int r = i / kSlots, j = i % kSlots;
    scale[r][j] = r < patches && j < k ? w[(first + r) * k + j] / denom[j * s + slide] : 0.0f;
  }
  float dw_acc[kPairs];
#pragma unroll
  for (int p = 0; p < kPairs; ++p) dw_acc[p] = 0.0f;
  const int col = threadIdx.x % kBackColumns, row0 = threadIdx.x / kBackColumns;  // dx: rows row0 + 4i
  for (int64_t c0 = 0; c0 < d; c0 += kBackColumns) {
    __syncthreads();  // the previous tile is no longer read (and scale is written, the first time)
    for (int i = threadIdx.x; i < kSlots * kBackColumns; i += kBackThreads) {
      const int j = i / kBackColumns, cc = i % kBackColumns;
      dslots_tile[j][cc] = j < k && c0 + cc < d ? load_f32(dslots, dslots_dtype, (j * s + slide) * d + c0 + cc) : 0.0f;
    }
    for (int i = threadIdx.x; i < kBackPatches * kBackColumns; i += kBackThreads) {
      const int r = i / kBackColumns, cc = i % kBackColumns;
      x_tile[r][cc] = r < patches && c0 + cc < d ? load_f32(x, x_dtype, (first + r) * d + c0 + cc) : 0.0f;
    }
    __syncthreads();
    // dx tile: thread (col, row0) computes rows row0, row0 + 4, ... of column col.
    float dx_acc[kBackRowsPerThread];
#pragma unroll
    for (int i = 0; i < kBackRowsPerThread; ++i) dx_acc[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < kSlots; ++j) {
      const float g = dslots_tile[j][col];
#pragma unroll
      for (int i = 0; i < kBackRowsPerThread; ++i) dx_acc[i] += scale[row0 + 4 * i][j] * g;
    }
    if (c0 + col < d)
#pragma unroll
      for (int i = 0; i < kBackRowsPerThread; ++i)
        if (row0 + 4 * i < patches) store_f32(dx, dx_dtype, (first + row0 + 4 * i) * d + c0 + col, dx_acc[i]);
    // dw: pair p = threadIdx.x + 256·q is (patch p / kSlots, slot p % kSlots).
#pragma unroll
    for (int q = 0; q < kPairs; ++q) {
      const int pair = threadIdx.x + q * kBackThreads, r = pair / kSlots, j = pair % kSlots;
      if (r >= kBackPatches) continue;
      float dot = 0.0f;
      for (int cc = 0; cc < kBackColumns; ++cc) dot += dslots_tile[j][cc] * x_tile[r][cc];
      dw_acc[q] += dot;
    }
  }
#pragma unroll
  for (int q = 0; q < kPairs; ++q) {
    const int pair = threadIdx.x + q * kBackThreads, r = pair / kSlots, j = pair % kSlots;
    if (r < patches && j < k)
      store_f32(dw, dw_dtype, (first + r) * k + j, (dw_acc[q] - c[j * s + slide]) / denom[j * s + slide]);
  }
}

// The smallest instantiation that holds k slots.
template <class Launch>
void with_slot_bucket(int64_t k, Launch&& launch) {
  if (k <= 16) launch(std::integral_constant<int, 16>{});
  else if (k <= 32) launch(std::integral_constant<int, 32>{});
  else launch(std::integral_constant<int, 64>{});
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
  // One chunk per slide: the partial sums are slots and denom, normalized in place.
  std::unique_ptr<StreamBuffer> scratch;
  float* partial = slots;
  float* partial_denom = denom;
  if (chunks > 1) {
    scratch = std::make_unique<StreamBuffer>(size_t(chunks * k * s * (d + 1)) * sizeof(float), stream);
    partial = scratch->as<float>();
    partial_denom = partial + chunks * k * s * d;
  }
  // At least one column tile: tile 0 also sums the weights (for denom), even when D is 0.
  const dim3 grid(unsigned(std::max<int64_t>(1, (d + kColumns - 1) / kColumns)), unsigned(s), unsigned(chunks));
  with_slot_bucket(k, [&](auto slots_max) {
    moe_slot_sum_kernel<decltype(slots_max)::value><<<grid, kColumns, 0, stream>>>(
        partial, partial_denom, args.x.data, args.x.dtype, args.weights.as<float>(), args.offsets.as<int32_t>(), d, k, s);
  });
  WSI_CUDA_CHECK_LAUNCH();
  moe_slot_normalize_kernel<<<blocks_for(k * s * d, kThreads), kThreads, 0, stream>>>(
      slots, partial, partial_denom, args.offsets.as<int32_t>(), d, k, s);
  WSI_CUDA_CHECK_LAUNCH();
  moe_denom_finish_kernel<<<blocks_for(k * s, kThreads), kThreads, 0, stream>>>(denom, partial_denom,
                                                                              args.offsets.as<int32_t>(), k, s);
  WSI_CUDA_CHECK_LAUNCH();
}

void moe_slot_mean_backward(const MoeSlotMeanBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.dim(0), d = args.x.dim(1), k = args.weights.dim(1), s = args.offsets.dim(0) - 1;
  const int64_t largest = check_offsets("moe_slot_mean_backward", args.offsets, n, stream);
  const int64_t tiles = (largest + kBackPatches - 1) / kBackPatches;
  WSI_CHECK(s <= 65535 && tiles <= INT32_MAX, ErrorCode::Unsupported, "moe_slot_mean_backward on CUDA: ", s,
            " slides of up to ", largest, " patches is more than this kernel's grid allows");
  StreamBuffer c(size_t(k * s) * sizeof(float), stream);
  const int64_t pairs = k * s;
  moe_slot_dot_kernel<<<blocks_for(pairs * 32, kThreads), kThreads, 0, stream>>>(
      c.as<float>(), args.dslots.data, args.dslots.dtype, args.slots.data, args.slots.dtype, d, pairs);
  WSI_CUDA_CHECK_LAUNCH();
  with_slot_bucket(k, [&](auto slots_max) {
    moe_slot_mean_backward_kernel<decltype(slots_max)::value><<<dim3(unsigned(tiles), unsigned(s)), kBackThreads, 0, stream>>>(
        args.dx.data, args.dx.dtype, args.dweights.data, args.dweights.dtype, args.dslots.data, args.dslots.dtype,
        c.as<float>(), args.denom.as<float>(), args.x.data, args.x.dtype, args.weights.as<float>(),
        args.offsets.as<int32_t>(), d, k, s);
  });
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

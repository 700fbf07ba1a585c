// out (M, N) = alpha·op(a) (M, K) @ op(b) (K, N) + beta·out + bias (N) on tensor cores, for
// bf16 or f16 a and b (one dtype), f32 accumulation; out and bias any floating dtype. The path
// used when cuBLASLt is not found.
//
// One block of 4 warps computes a 64×64 tile of out, stepping through K by 32: it copies
// op(a)[64 rows, 32] and op(b)[32, 64 cols] into shared memory (zero-filled past the edges, read
// in whichever order is contiguous for the transposition, so the copies stay coalesced), then
// each warp multiplies its 32×32 quarter as 2×2 wmma 16×16×16 fragments. The accumulators go
// through shared memory to an epilogue that applies alpha, beta·out and the bias and rounds to
// out's dtype. Shared-memory rows are padded so every fragment starts 32-byte aligned with a
// leading dimension that wmma accepts (a multiple of 8 halves / 4 floats).
//
// A product with few output tiles and a long K (the cross-entropy's dhidden: 170 × 2560 over
// K = 151 936) is split along K: blockIdx.z takes one slice, writes its raw f32 sums to a
// partial, and a second kernel adds the slices in order and applies the epilogue. The split
// depends only on the shape, so the result has the same bits on every run.
#include <mma.h>

#include <algorithm>
#include <memory>

#include "check.h"
#include "convert.cuh"
#include "matmul_paths.h"
#include "stream_buffer.h"

namespace wsi::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kTileM = 64, kTileN = 64, kTileK = 32;
constexpr int kThreads = 128;                // 4 warps, 2×2 over the tile
constexpr int kWarpM = 32, kWarpN = 32;      // each warp's share
constexpr int kFrag = 16;                    // wmma m16n16k16
constexpr int kPadHalf = 8, kPadFloat = 4;   // row padding in elements (16 bytes)
constexpr int kLdA = kTileK + kPadHalf;      // 40
constexpr int kLdB = kTileN + kPadHalf;      // 72
constexpr int kLdC = kTileN + kPadFloat;     // 68

template <class T>
__device__ __forceinline__ T zero();
template <>
__device__ __forceinline__ __nv_bfloat16 zero<__nv_bfloat16>() { return __float2bfloat16(0.0f); }
template <>
__device__ __forceinline__ __half zero<__half>() { return __float2half(0.0f); }

// K is taken in slices of k_slice (a multiple of kTileK), slice blockIdx.z; with partial, the
// slice's raw sums go to partial[z] (M, N) f32 and the epilogue is left to the finish kernel.
template <class T>
__global__ void __launch_bounds__(kThreads)
    matmul_tensor_core_kernel(void* out, DType out_dtype, const T* a, const T* b, const void* bias, DType bias_dtype,
                              MatmulShape s, int64_t k_slice, float* partial) {
  __shared__ __align__(32) T a_tile[kTileM][kLdA];  // op(a)[m0 + r, k0 + c]
  __shared__ __align__(32) T b_tile[kTileK][kLdB];  // op(b)[k0 + r, n0 + c]
  __shared__ __align__(32) float c_tile[kTileM][kLdC];

  const int64_t m0 = int64_t(blockIdx.y) * kTileM, n0 = int64_t(blockIdx.x) * kTileN;
  const int warp = threadIdx.x / 32;
  const int warp_row = (warp / 2) * kWarpM, warp_col = (warp % 2) * kWarpN;

  wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  const int64_t k_begin = int64_t(blockIdx.z) * k_slice, k_end = min(s.k, k_begin + k_slice);
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileK) {
    for (int e = threadIdx.x; e < kTileM * kTileK; e += kThreads) {
      // a is (M, K) row-major, or (K, M) with trans_a: walk the contiguous index fastest.
      const int r = s.trans_a ? e % kTileM : e / kTileK, c = s.trans_a ? e / kTileM : e % kTileK;
      const int64_t gm = m0 + r, gk = k0 + c;
      a_tile[r][c] = gm < s.m && gk < k_end ? a[s.trans_a ? gk * s.m + gm : gm * s.k + gk] : zero<T>();
    }
    for (int e = threadIdx.x; e < kTileK * kTileN; e += kThreads) {
      // b is (K, N) row-major, or (N, K) with trans_b.
      const int r = s.trans_b ? e % kTileK : e / kTileN, c = s.trans_b ? e / kTileK : e % kTileN;
      const int64_t gk = k0 + r, gn = n0 + c;
      b_tile[r][c] = gk < k_end && gn < s.n ? b[s.trans_b ? gn * s.k + gk : gk * s.n + gn] : zero<T>();
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; kk += kFrag) {
      wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> fb[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], &a_tile[warp_row + i * kFrag][kk], kLdA);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], &b_tile[kk][warp_col + j * kFrag], kLdB);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();  // the tiles are overwritten next
  }

#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&c_tile[warp_row + i * kFrag][warp_col + j * kFrag], acc[i][j], kLdC,
                              wmma::mem_row_major);
  __syncthreads();

  for (int e = threadIdx.x; e < kTileM * kTileN; e += kThreads) {
    const int r = e / kTileN, c = e % kTileN;
    const int64_t gm = m0 + r, gn = n0 + c;
    if (gm >= s.m || gn >= s.n) continue;
    const int64_t i = gm * s.n + gn;
    if (partial) {
      partial[blockIdx.z * s.m * s.n + i] = c_tile[r][c];
      continue;
    }
    float value = s.alpha * c_tile[r][c];
    if (s.beta != 0.0f) value += s.beta * load_f32(out, out_dtype, i);  // out is not read when beta == 0
    if (bias) value += load_f32(bias, bias_dtype, gn);
    store_f32(out, out_dtype, i, value);
  }
}

// out = alpha·Σ_z partial[z] + beta·out + bias, the slices added in order.
__global__ void matmul_split_k_finish_kernel(void* out, DType out_dtype, const float* partial, int64_t splits,
                                             const void* bias, DType bias_dtype, MatmulShape s) {
  const int64_t count = s.m * s.n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (int64_t z = 0; z < splits; ++z) sum += partial[z * count + i];
    float value = s.alpha * sum;
    if (s.beta != 0.0f) value += s.beta * load_f32(out, out_dtype, i);
    if (bias) value += load_f32(bias, bias_dtype, i % s.n);
    store_f32(out, out_dtype, i, value);
  }
}

constexpr int64_t kWantedBlocks = 256;     // about two blocks per SM of an A100 / H100
constexpr int64_t kMinTilesPerSlice = 16;  // K tiles: a slice long enough to pay for its partial
constexpr int64_t kMaxSplits = 16;

// How many K slices: enough for about kWantedBlocks blocks, from the shape alone.
int64_t split_count(int64_t tiles, int64_t k) {
  const int64_t k_tiles = (k + kTileK - 1) / kTileK;
  const int64_t wanted = (kWantedBlocks + tiles - 1) / tiles;
  return std::max<int64_t>(1, std::min({wanted, k_tiles / kMinTilesPerSlice, kMaxSplits}));
}

}  // namespace

bool tensor_core_suits(const MatmulArgs& args) {
  return args.a.dtype == args.b.dtype && (args.a.dtype == DType::BF16 || args.a.dtype == DType::F16);
}

void matmul_tensor_core(const MatmulArgs& args, cudaStream_t stream) {
  const MatmulShape s = matmul_shape(args);
  const int64_t tiles_n = (s.n + kTileN - 1) / kTileN, tiles_m = (s.m + kTileM - 1) / kTileM;
  WSI_CHECK(tiles_m <= 65535, ErrorCode::Unsupported, "matmul on CUDA: ", s.m, " rows is more than this kernel's grid allows");
  const int64_t splits = split_count(tiles_m * tiles_n, s.k);
  const int64_t k_tiles = (s.k + kTileK - 1) / kTileK;
  const int64_t k_slice = (k_tiles + splits - 1) / splits * kTileK;
  const dim3 grid{unsigned(tiles_n), unsigned(tiles_m), unsigned(splits)};
  const void* bias = args.bias.defined() ? args.bias.data : nullptr;
  std::unique_ptr<StreamBuffer> partial;
  if (splits > 1) partial = std::make_unique<StreamBuffer>(size_t(splits * s.m * s.n) * sizeof(float), stream);
  float* partial_data = partial ? partial->as<float>() : nullptr;
  if (args.a.dtype == DType::BF16)
    matmul_tensor_core_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(
        args.out.data, args.out.dtype, args.a.as<const __nv_bfloat16>(), args.b.as<const __nv_bfloat16>(), bias,
        args.bias.dtype, s, k_slice, partial_data);
  else
    matmul_tensor_core_kernel<__half><<<grid, kThreads, 0, stream>>>(args.out.data, args.out.dtype,
                                                                    args.a.as<const __half>(), args.b.as<const __half>(),
                                                                    bias, args.bias.dtype, s, k_slice, partial_data);
  WSI_CUDA_CHECK_LAUNCH();
  if (!partial) return;
  matmul_split_k_finish_kernel<<<blocks_for(s.m * s.n, 256), 256, 0, stream>>>(args.out.data, args.out.dtype,
                                                                               partial_data, splits, bias,
                                                                               args.bias.dtype, s);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

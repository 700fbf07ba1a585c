// Causal grouped-query attention backward on tensor cores, for bf16 / f16 inputs with head dim 64
// or 128: the same op and results as attention_backward.cu's kernels, which remain the path for
// f32 and other head dims, and which compute delta = rowsum(dout ∘ out) (B, Hq, T) f32 first.
//
//   q, dout, dq (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse, delta (B, Hq, T) f32.
//   p_ij = exp(scale·q_i·k_j − lse_i) (visible keys), ds_ij = p_ij·(dout_i·v_j − delta_i);
//   dv_j = Σ p_ij·dout_i, dk_j = scale·Σ ds_ij·q_i (over the head group), dq_i = scale·Σ ds_ij·k_j.
// All gradients are overwritten (=).
//
// Two kernels of 4 warps, tiles of 64 rows, wmma 16×16×16 with f32 accumulation; p and ds are
// rounded to the input dtype before they enter a product (as FlashAttention-2 does):
//  dK/dV  one block per 64 keys of one (b, key-value head); warp w owns keys [16w, 16w + 16) and
//         keeps their dk, dv in accumulator fragments over every query head of the group and
//         every query tile: Sᵀ = K·Qᵀ, Pᵀ, dV += Pᵀ·dO, dPᵀ = V·dOᵀ, dSᵀ, dK += dSᵀ·Q.
//  dQ     a separate pass (no atomics, deterministic): one block per 64 query rows of one
//         (b, query head), warp w owning rows [16w, 16w + 16): S = Q·Kᵀ, dP = dO·Vᵀ, dS,
//         dQ += dS·K over the key tiles.
#include <mma.h>

#include "attention_common.cuh"
#include "attention_paths.h"
#include "check.h"

namespace wsi::cuda {
namespace {

namespace wmma = nvcuda::wmma;
using attn::Layout;

constexpr int kTile = 64, kWarps = 4, kThreads = kWarps * 32, kFrag = 16;
constexpr int kPadHalf = 8, kPadFloat = 4;  // 16 bytes of row padding: fragments stay 32-byte aligned

template <class T, int kDim>
struct Smem {
  static constexpr int kLdIn = kDim + kPadHalf;   // q, dout, k, v rows (T)
  static constexpr int kLdS = kTile + kPadFloat;  // score-like tiles (f32)
  static constexpr int kLdP = kTile + kPadHalf;   // probability-like tiles (T)
  static constexpr int kLdStage = kDim + kPadFloat;
  static constexpr size_t kIn = sizeof(T) * kTile * kLdIn;
  static constexpr size_t kF32 = sizeof(float) * kTile * kLdS;
  static constexpr size_t kHalf = sizeof(T) * kTile * kLdP;
  // Regions: 4 input tiles, 2 f32 tiles, 2 T tiles, then lse and delta of 64 rows.
  static constexpr size_t kBytes = 4 * kIn + 2 * kF32 + 2 * kHalf + 2 * sizeof(float) * kTile;
  static_assert(kIn % 32 == 0 && kF32 % 32 == 0 && kHalf % 32 == 0, "every region starts 32-byte aligned");
  static_assert(sizeof(float) * kWarps * kFrag * kLdStage <= 2 * kIn, "the output staging fits in two input tiles");
};

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half(v); }

// Copies `valid` rows (zeros after) of head h of a (B, T, H, D) tensor, from token `first`.
template <class T, int kDim>
__device__ void copy_rows(T* tile, const T* src, const Layout& L, int64_t heads, int64_t b, int64_t h, int64_t first,
                          int64_t valid) {
  constexpr int kLd = kDim + kPadHalf;
  for (int e = threadIdx.x; e < kTile * kDim; e += kThreads) {
    const int r = e / kDim, d = e % kDim;
    tile[r * kLd + d] = r < valid ? src[((b * L.tokens + first + r) * heads + h) * kDim + d] : from_f32<T>(0.0f);
  }
}

// Writes a warp's 16 × kDim accumulator strip, times `factor`, to rows first.. of head h of a
// (B, T, H, D) tensor, through the warp's f32 staging area.
template <int kDim, class Frag>
__device__ void store_strip(void* dst, DType dtype, Frag (&acc)[kDim / kFrag], float* stage, float factor,
                            const Layout& L, int64_t heads, int64_t b, int64_t h, int64_t first) {
  constexpr int kLd = kDim + kPadFloat;
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int f = 0; f < kDim / kFrag; ++f) wmma::store_matrix_sync(stage + f * kFrag, acc[f], kLd, wmma::mem_row_major);
  __syncwarp();
  for (int e = lane; e < kFrag * kDim; e += 32) {
    const int r = e / kDim, d = e % kDim;
    const int64_t t = first + r;
    if (t < L.tokens) store_f32(dst, dtype, ((b * L.tokens + t) * heads + h) * kDim + d, stage[r * kLd + d] * factor);
  }
  __syncwarp();
}

template <class T, int kDim>
__global__ void __launch_bounds__(kThreads)
    attention_dkdv_tc_kernel(void* dk, DType dk_dtype, void* dv, DType dv_dtype, const T* q, const T* k,
                             const T* v, const T* dout, const float* lse, const float* delta, const int32_t* seq_lens,
                             Layout L, float scale, bool causal) {
  using S = Smem<T, kDim>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* k_s = reinterpret_cast<T*>(smem);                         // (64 keys, D)
  T* v_s = reinterpret_cast<T*>(smem + S::kIn);                // (64 keys, D)
  T* q_s = reinterpret_cast<T*>(smem + 2 * S::kIn);            // (64 queries, D)
  T* do_s = reinterpret_cast<T*>(smem + 3 * S::kIn);           // (64 queries, D)
  float* s_s = reinterpret_cast<float*>(smem + 4 * S::kIn);    // Sᵀ, then dPᵀ (64 keys, 64 queries)
  float* p_s = reinterpret_cast<float*>(smem + 4 * S::kIn + S::kF32);  // Pᵀ in f32
  T* ph_s = reinterpret_cast<T*>(smem + 4 * S::kIn + 2 * S::kF32);      // Pᵀ rounded
  T* ds_s = reinterpret_cast<T*>(smem + 4 * S::kIn + 2 * S::kF32 + S::kHalf);  // dSᵀ rounded
  float* lse_s = reinterpret_cast<float*>(smem + 4 * S::kIn + 2 * S::kF32 + 2 * S::kHalf);
  float* delta_s = lse_s + kTile;

  const int64_t b = blockIdx.z, hkv = blockIdx.y, first_key = int64_t(blockIdx.x) * kTile;
  const int64_t len = attn::valid_length(seq_lens, b, L.tokens);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, strip = warp * kFrag;
  constexpr int kF = kDim / kFrag;

  const int64_t key_rows = L.tokens - first_key < kTile ? L.tokens - first_key : kTile;
  copy_rows<T, kDim>(k_s, k, L, L.kv_heads, b, hkv, first_key, key_rows);
  copy_rows<T, kDim>(v_s, v, L, L.kv_heads, b, hkv, first_key, key_rows);

  wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> dk_acc[kF], dv_acc[kF];
#pragma unroll
  for (int f = 0; f < kF; ++f) {
    wmma::fill_fragment(dk_acc[f], 0.0f);
    wmma::fill_fragment(dv_acc[f], 0.0f);
  }

  const int64_t query_begin = causal ? first_key : 0;  // earlier queries see none of these keys
  for (int64_t h = hkv * L.group(); h < (hkv + 1) * L.group(); ++h) {
    for (int64_t i0 = query_begin; i0 < len; i0 += kTile) {
      __syncthreads();  // the previous q / dout tiles are no longer read
      copy_rows<T, kDim>(q_s, q, L, L.q_heads, b, h, i0, len - i0);
      copy_rows<T, kDim>(do_s, dout, L, L.q_heads, b, h, i0, len - i0);
      if (threadIdx.x < kTile) {
        const int64_t i = i0 + threadIdx.x;
        lse_s[threadIdx.x] = i < len ? lse[L.stat(b, h, i)] : 0.0f;
        delta_s[threadIdx.x] = i < len ? delta[L.stat(b, h, i)] : 0.0f;
      }
      __syncthreads();

      // Sᵀ strip (16 keys, 64 queries) = K strip · Qᵀ; Qᵀ is q_s read column-major.
      for (int n = 0; n < kTile; n += kFrag) {
        wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc;
        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
        for (int kk = 0; kk < kDim; kk += kFrag) {
          wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a;
          wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major> bt;
          wmma::load_matrix_sync(a, k_s + strip * S::kLdIn + kk, S::kLdIn);
          wmma::load_matrix_sync(bt, q_s + n * S::kLdIn + kk, S::kLdIn);
          wmma::mma_sync(acc, a, bt, acc);
        }
        wmma::store_matrix_sync(s_s + strip * S::kLdS + n, acc, S::kLdS, wmma::mem_row_major);
      }
      __syncwarp();

      // Pᵀ: lanes 2r, 2r + 1 share key row strip + r, 32 query columns each.
      {
        const int r = strip + lane / 2, half = lane % 2;
        const int64_t j = first_key + r;
        for (int c = 0; c < kTile / 2; ++c) {
          const int col = half * (kTile / 2) + c;
          const int64_t i = i0 + col;
          const bool visible = j < len && i < len && (!causal || j <= i);
          const float p = visible ? __expf(s_s[r * S::kLdS + col] * scale - lse_s[col]) : 0.0f;
          p_s[r * S::kLdS + col] = p;
          ph_s[r * S::kLdP + col] = from_f32<T>(p);
        }
      }
      __syncwarp();

      // dV strip += Pᵀ strip (16, 64) · dO (64, D).
#pragma unroll
      for (int f = 0; f < kF; ++f) {
#pragma unroll
        for (int kk = 0; kk < kTile; kk += kFrag) {
          wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a;
          wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> bm;
          wmma::load_matrix_sync(a, ph_s + strip * S::kLdP + kk, S::kLdP);
          wmma::load_matrix_sync(bm, do_s + kk * S::kLdIn + f * kFrag, S::kLdIn);
          wmma::mma_sync(dv_acc[f], a, bm, dv_acc[f]);
        }
      }

      // dPᵀ strip (16 keys, 64 queries) = V strip · dOᵀ, into s_s (Sᵀ was consumed above).
      for (int n = 0; n < kTile; n += kFrag) {
        wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc;
        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
        for (int kk = 0; kk < kDim; kk += kFrag) {
          wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a;
          wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major> bt;
          wmma::load_matrix_sync(a, v_s + strip * S::kLdIn + kk, S::kLdIn);
          wmma::load_matrix_sync(bt, do_s + n * S::kLdIn + kk, S::kLdIn);
          wmma::mma_sync(acc, a, bt, acc);
        }
        wmma::store_matrix_sync(s_s + strip * S::kLdS + n, acc, S::kLdS, wmma::mem_row_major);
      }
      __syncwarp();

      // dSᵀ = Pᵀ ∘ (dPᵀ − delta of each query column).
      {
        const int r = strip + lane / 2, half = lane % 2;
        for (int c = 0; c < kTile / 2; ++c) {
          const int col = half * (kTile / 2) + c;
          const float ds = p_s[r * S::kLdS + col] * (s_s[r * S::kLdS + col] - delta_s[col]);
          ds_s[r * S::kLdP + col] = from_f32<T>(ds);
        }
      }
      __syncwarp();

      // dK strip += dSᵀ strip (16, 64) · Q (64, D).
#pragma unroll
      for (int f = 0; f < kF; ++f) {
#pragma unroll
        for (int kk = 0; kk < kTile; kk += kFrag) {
          wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a;
          wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> bm;
          wmma::load_matrix_sync(a, ds_s + strip * S::kLdP + kk, S::kLdP);
          wmma::load_matrix_sync(bm, q_s + kk * S::kLdIn + f * kFrag, S::kLdIn);
          wmma::mma_sync(dk_acc[f], a, bm, dk_acc[f]);
        }
      }
    }
  }
  __syncthreads();  // every warp is done with q_s / do_s: they become the staging area
  float* stage = reinterpret_cast<float*>(smem + 2 * S::kIn) + warp * kFrag * S::kLdStage;
  store_strip<kDim>(dk, dk_dtype, dk_acc, stage, scale, L, L.kv_heads, b, hkv, first_key + strip);
  store_strip<kDim>(dv, dv_dtype, dv_acc, stage, 1.0f, L, L.kv_heads, b, hkv, first_key + strip);
}

template <class T, int kDim>
__global__ void __launch_bounds__(kThreads)
    attention_dq_tc_kernel(void* dq, DType dq_dtype, const T* q, const T* k, const T* v, const T* dout,
                           const float* lse, const float* delta, const int32_t* seq_lens, Layout L, float scale,
                           bool causal) {
  using S = Smem<T, kDim>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* q_s = reinterpret_cast<T*>(smem);                         // (64 queries, D)
  T* do_s = reinterpret_cast<T*>(smem + S::kIn);               // (64 queries, D)
  T* k_s = reinterpret_cast<T*>(smem + 2 * S::kIn);            // (64 keys, D)
  T* v_s = reinterpret_cast<T*>(smem + 3 * S::kIn);            // (64 keys, D)
  float* s_s = reinterpret_cast<float*>(smem + 4 * S::kIn);    // S (64 queries, 64 keys)
  float* dp_s = reinterpret_cast<float*>(smem + 4 * S::kIn + S::kF32);  // dP
  T* ds_s = reinterpret_cast<T*>(smem + 4 * S::kIn + 2 * S::kF32);      // dS rounded
  float* lse_s = reinterpret_cast<float*>(smem + 4 * S::kIn + 2 * S::kF32 + 2 * S::kHalf);
  float* delta_s = lse_s + kTile;

  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / L.group(), first_row = int64_t(blockIdx.x) * kTile;
  const int64_t len = attn::valid_length(seq_lens, b, L.tokens);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, strip = warp * kFrag;
  constexpr int kF = kDim / kFrag;

  const int64_t rows = L.tokens - first_row < kTile ? L.tokens - first_row : kTile;
  copy_rows<T, kDim>(q_s, q, L, L.q_heads, b, h, first_row, rows);
  copy_rows<T, kDim>(do_s, dout, L, L.q_heads, b, h, first_row, rows);
  if (threadIdx.x < kTile) {
    const int64_t i = first_row + threadIdx.x;
    lse_s[threadIdx.x] = i < len ? lse[L.stat(b, h, i)] : 0.0f;
    delta_s[threadIdx.x] = i < len ? delta[L.stat(b, h, i)] : 0.0f;
  }

  wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> dq_acc[kF];
#pragma unroll
  for (int f = 0; f < kF; ++f) wmma::fill_fragment(dq_acc[f], 0.0f);

  int64_t key_end = len;
  if (causal && first_row + kTile < key_end) key_end = first_row + kTile;
  for (int64_t j0 = 0; j0 < key_end; j0 += kTile) {
    __syncthreads();  // the previous k / v tiles are no longer read
    copy_rows<T, kDim>(k_s, k, L, L.kv_heads, b, hkv, j0, key_end - j0);
    copy_rows<T, kDim>(v_s, v, L, L.kv_heads, b, hkv, j0, key_end - j0);
    __syncthreads();

    // S strip = Q strip · Kᵀ and dP strip = dO strip · Vᵀ (16 queries, 64 keys).
    for (int n = 0; n < kTile; n += kFrag) {
      wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> s_acc, dp_acc;
      wmma::fill_fragment(s_acc, 0.0f);
      wmma::fill_fragment(dp_acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < kDim; kk += kFrag) {
        wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major> bt;
        wmma::load_matrix_sync(a, q_s + strip * S::kLdIn + kk, S::kLdIn);
        wmma::load_matrix_sync(bt, k_s + n * S::kLdIn + kk, S::kLdIn);
        wmma::mma_sync(s_acc, a, bt, s_acc);
        wmma::load_matrix_sync(a, do_s + strip * S::kLdIn + kk, S::kLdIn);
        wmma::load_matrix_sync(bt, v_s + n * S::kLdIn + kk, S::kLdIn);
        wmma::mma_sync(dp_acc, a, bt, dp_acc);
      }
      wmma::store_matrix_sync(s_s + strip * S::kLdS + n, s_acc, S::kLdS, wmma::mem_row_major);
      wmma::store_matrix_sync(dp_s + strip * S::kLdS + n, dp_acc, S::kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // dS = P ∘ (dP − delta): lanes 2r, 2r + 1 share query row strip + r.
    {
      const int r = strip + lane / 2, half = lane % 2;
      const int64_t i = first_row + r;
      for (int c = 0; c < kTile / 2; ++c) {
        const int col = half * (kTile / 2) + c;
        const int64_t j = j0 + col;
        const bool visible = i < len && j < key_end && (!causal || j <= i);
        const float p = visible ? __expf(s_s[r * S::kLdS + col] * scale - lse_s[r]) : 0.0f;
        ds_s[r * S::kLdP + col] = from_f32<T>(p * (dp_s[r * S::kLdS + col] - delta_s[r]));
      }
    }
    __syncwarp();

    // dQ strip += dS strip (16, 64) · K (64, D).
#pragma unroll
    for (int f = 0; f < kF; ++f) {
#pragma unroll
      for (int kk = 0; kk < kTile; kk += kFrag) {
        wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> bm;
        wmma::load_matrix_sync(a, ds_s + strip * S::kLdP + kk, S::kLdP);
        wmma::load_matrix_sync(bm, k_s + kk * S::kLdIn + f * kFrag, S::kLdIn);
        wmma::mma_sync(dq_acc[f], a, bm, dq_acc[f]);
      }
    }
  }
  __syncthreads();  // every warp is done with q_s / do_s: they become the staging area
  float* stage = reinterpret_cast<float*>(smem) + warp * kFrag * S::kLdStage;
  store_strip<kDim>(dq, dq_dtype, dq_acc, stage, scale, L, L.q_heads, b, h, first_row + strip);
}

template <class T, int kDim>
bool launch(const AttentionBackwardArgs& args, const Layout& L, cudaStream_t stream) {
  constexpr size_t bytes = Smem<T, kDim>::kBytes;
  int device = 0, optin = 0;
  WSI_CUDA_CHECK(cudaGetDevice(&device));
  WSI_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (size_t(optin) < bytes) return false;
  auto dkdv = attention_dkdv_tc_kernel<T, kDim>;
  auto dq = attention_dq_tc_kernel<T, kDim>;
  WSI_CUDA_CHECK(cudaFuncSetAttribute(dkdv, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  WSI_CUDA_CHECK(cudaFuncSetAttribute(dq, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  const int32_t* lens = args.seq_lens.defined() ? args.seq_lens.as<const int32_t>() : nullptr;
  const unsigned tiles = unsigned((L.tokens + kTile - 1) / kTile);
  const float scale = args.softmax_scale();
  dkdv<<<dim3(tiles, unsigned(L.kv_heads), unsigned(L.batch)), kThreads, bytes, stream>>>(
      args.dk.data, args.dk.dtype, args.dv.data, args.dv.dtype, args.q.as<const T>(), args.k.as<const T>(),
      args.v.as<const T>(), args.dout.as<const T>(), args.lse.as<const float>(), args.delta.as<const float>(), lens, L,
      scale, args.causal);
  WSI_CUDA_CHECK_LAUNCH();
  dq<<<dim3(tiles, unsigned(L.q_heads), unsigned(L.batch)), kThreads, bytes, stream>>>(
      args.dq.data, args.dq.dtype, args.q.as<const T>(), args.k.as<const T>(), args.v.as<const T>(),
      args.dout.as<const T>(), args.lse.as<const float>(), args.delta.as<const float>(), lens, L, scale, args.causal);
  WSI_CUDA_CHECK_LAUNCH();
  return true;
}

}  // namespace

bool attention_backward_tensor_core(const AttentionBackwardArgs& args, cudaStream_t stream) {
  const Layout L{args.q.dim(0), args.q.dim(1), args.q.dim(2), args.k.dim(2), args.q.dim(3)};
  const bool bf16 = args.q.dtype == DType::BF16;
  if ((!bf16 && args.q.dtype != DType::F16) || args.dout.dtype != args.q.dtype) return false;
  if (L.dim == 64) return bf16 ? launch<__nv_bfloat16, 64>(args, L, stream) : launch<__half, 64>(args, L, stream);
  if (L.dim == 128) return bf16 ? launch<__nv_bfloat16, 128>(args, L, stream) : launch<__half, 128>(args, L, stream);
  return false;
}

}  // namespace wsi::cuda

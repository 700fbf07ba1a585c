// Causal grouped-query attention forward on tensor cores, for bf16 / f16 inputs with head dim 64
// or 128 (Qwen3's): the same op and result as attention_forward.cu's kernel, which remains the
// path for f32 and other head dims. See wsi/ops/attention.h for the op.
//
//   q, out (B, T, Hq, D); k, v (B, T, Hkv, D); lse (B, Hq, T) f32; seq_lens (B) i32 or null.
//
// One block of 4 warps takes kRows = 64 query rows of one (b, query head) and walks the keys in
// tiles of kKeys = 64, never holding more than one 64×64 score tile:
//   S = Q·Kᵀ          wmma 16×16×16, f32 accumulate, stored to shared memory
//   online softmax    f32, two lanes per row: running max m, sum l, correction exp(m_old − m_new);
//                     P rounded to the input dtype for the next product (as FlashAttention does)
//   O = O·corr + P·V  O lives in shared memory as f32; wmma accumulators are loaded from it,
//                     multiplied into and stored back
// Warp w owns query rows [16w, 16w + 16) through every step, so after the K/V tiles are loaded
// the warps never wait on each other. Shared memory (dynamic, ≈113 KB for D = 128) is checked
// against the device's opt-in limit; the caller falls back to the CUDA-core kernel when refused.
#include <mma.h>

#include <cfloat>

#include "attention_common.cuh"
#include "attention_paths.h"
#include "check.h"

namespace wsi::cuda {
namespace {

namespace wmma = nvcuda::wmma;
using attn::Layout;

constexpr int kRows = 64, kKeys = 64, kWarps = 4, kThreads = kWarps * 32;
constexpr int kFrag = 16;
constexpr int kPadHalf = 8, kPadFloat = 4;  // 16 bytes of row padding: fragments stay 32-byte aligned

template <class T, int kDim>
struct Smem {
  static constexpr int kLdIn = kDim + kPadHalf;     // q, k, v rows (T)
  static constexpr int kLdS = kKeys + kPadFloat;    // scores (f32)
  static constexpr int kLdP = kKeys + kPadHalf;     // probabilities (T)
  static constexpr int kLdO = kDim + kPadFloat;     // output accumulator (f32)
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + sizeof(T) * kRows * kLdIn;
  static constexpr size_t kV = kK + sizeof(T) * kKeys * kLdIn;
  static constexpr size_t kS = kV + sizeof(T) * kKeys * kLdIn;
  static constexpr size_t kP = kS + sizeof(float) * kRows * kLdS;
  static constexpr size_t kO = kP + sizeof(T) * kRows * kLdP;
  static constexpr size_t kStats = kO + sizeof(float) * kRows * kLdO;  // m, l, corr per row
  static constexpr size_t kBytes = kStats + sizeof(float) * 3 * kRows;
  static_assert(kK % 32 == 0 && kV % 32 == 0 && kS % 32 == 0 && kP % 32 == 0 && kO % 32 == 0 && kStats % 32 == 0,
                "every region starts 32-byte aligned");
};

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half(v); }

// Copies `valid` rows of a (B, T, H, D) tensor starting at token `first` into tile (zeros after).
template <class T, int kDim, int kTileRows>
__device__ void copy_rows(T* tile, const T* src, int64_t first, int64_t valid, int64_t token_stride,
                          int64_t base) {
  constexpr int kLd = kDim + kPadHalf;
  for (int e = threadIdx.x; e < kTileRows * kDim; e += kThreads) {
    const int r = e / kDim, d = e % kDim;
    tile[r * kLd + d] = r < valid ? src[base + (first + r) * token_stride + d] : from_f32<T>(0.0f);
  }
}

template <class T, int kDim>
__global__ void __launch_bounds__(kThreads)
    attention_forward_tc_kernel(void* out, DType out_dtype, float* lse, const T* q, const T* k, const T* v,
                                const int32_t* seq_lens, Layout L, float scale, bool causal) {
  using S = Smem<T, kDim>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* q_s = reinterpret_cast<T*>(smem + S::kQ);          // (kRows, D)
  T* k_s = reinterpret_cast<T*>(smem + S::kK);          // (kKeys, D)
  T* v_s = reinterpret_cast<T*>(smem + S::kV);          // (kKeys, D)
  float* s_s = reinterpret_cast<float*>(smem + S::kS);  // (kRows, kKeys)
  T* p_s = reinterpret_cast<T*>(smem + S::kP);          // (kRows, kKeys)
  float* o_s = reinterpret_cast<float*>(smem + S::kO);  // (kRows, D)
  float* m_s = reinterpret_cast<float*>(smem + S::kStats);
  float* l_s = m_s + kRows;
  float* corr_s = l_s + kRows;

  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / L.group();
  const int64_t first_row = int64_t(blockIdx.x) * kRows;
  const int64_t len = attn::valid_length(seq_lens, b, L.tokens);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int strip = warp * kFrag;  // this warp's first query row in the tile

  // Q tile, O = 0, m = -FLT_MAX, l = 0.
  const int64_t q_rows = L.tokens - first_row < kRows ? L.tokens - first_row : kRows;
  copy_rows<T, kDim, kRows>(q_s, q, first_row, q_rows, L.q_heads * kDim, (b * L.tokens * L.q_heads + h) * kDim);
  for (int e = threadIdx.x; e < kRows * S::kLdO; e += kThreads) o_s[e] = 0.0f;
  if (threadIdx.x < kRows) {
    m_s[threadIdx.x] = -FLT_MAX;
    l_s[threadIdx.x] = 0.0f;
  }

  int64_t key_end = len;
  if (causal && first_row + kRows < key_end) key_end = first_row + kRows;
  for (int64_t j0 = 0; j0 < key_end; j0 += kKeys) {
    const int64_t kv_base = (b * L.tokens * L.kv_heads + hkv) * kDim;
    copy_rows<T, kDim, kKeys>(k_s, k, j0, key_end - j0, L.kv_heads * kDim, kv_base);
    copy_rows<T, kDim, kKeys>(v_s, v, j0, key_end - j0, L.kv_heads * kDim, kv_base);
    __syncthreads();

    // S strip (16, kKeys) = Q strip (16, D) · Kᵀ (D, kKeys); Kᵀ is k_s read column-major.
    for (int n = 0; n < kKeys; n += kFrag) {
      wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> s_frag;
      wmma::fill_fragment(s_frag, 0.0f);
#pragma unroll
      for (int kk = 0; kk < kDim; kk += kFrag) {
        wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> q_frag;
        wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major> k_frag;
        wmma::load_matrix_sync(q_frag, q_s + strip * S::kLdIn + kk, S::kLdIn);
        wmma::load_matrix_sync(k_frag, k_s + n * S::kLdIn + kk, S::kLdIn);
        wmma::mma_sync(s_frag, q_frag, k_frag, s_frag);
      }
      wmma::store_matrix_sync(s_s + strip * S::kLdS + n, s_frag, S::kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax of the strip: lanes 2r and 2r + 1 share row strip + r, 32 columns each.
    {
      const int r = strip + lane / 2, half = lane % 2;
      const int64_t i = first_row + r;
      const bool row_valid = i < len;
      float scores[kKeys / 2];
      float tile_max = -FLT_MAX;
#pragma unroll
      for (int c = 0; c < kKeys / 2; ++c) {
        const int col = half * (kKeys / 2) + c;
        const int64_t j = j0 + col;
        const bool visible = row_valid && j < key_end && (!causal || j <= i);
        scores[c] = visible ? s_s[r * S::kLdS + col] * scale : -FLT_MAX;
        tile_max = fmaxf(tile_max, scores[c]);
      }
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      const float m_old = m_s[r], m_new = fmaxf(m_old, tile_max);
      float sum = 0.0f;
#pragma unroll
      for (int c = 0; c < kKeys / 2; ++c) {
        const float p = scores[c] == -FLT_MAX ? 0.0f : __expf(scores[c] - m_new);
        sum += p;
        p_s[r * S::kLdP + half * (kKeys / 2) + c] = from_f32<T>(p);
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      __syncwarp();  // both lanes read m_s[r] before it changes
      if (half == 0) {
        const float corr = __expf(m_old - m_new);
        corr_s[r] = corr;
        l_s[r] = l_s[r] * corr + sum;
        m_s[r] = m_new;
      }
    }
    __syncwarp();

    // O strip = O strip · corr (per row), then += P strip (16, kKeys) · V (kKeys, D).
    for (int e = lane; e < kFrag * kDim; e += 32) {
      const int r = strip + e / kDim, d = e % kDim;
      o_s[r * S::kLdO + d] *= corr_s[r];
    }
    __syncwarp();
#pragma unroll
    for (int n = 0; n < kDim; n += kFrag) {
      wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> o_frag;
      wmma::load_matrix_sync(o_frag, o_s + strip * S::kLdO + n, S::kLdO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kKeys; kk += kFrag) {
        wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> p_frag;
        wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> v_frag;
        wmma::load_matrix_sync(p_frag, p_s + strip * S::kLdP + kk, S::kLdP);
        wmma::load_matrix_sync(v_frag, v_s + kk * S::kLdIn + n, S::kLdIn);
        wmma::mma_sync(o_frag, p_frag, v_frag, o_frag);
      }
      wmma::store_matrix_sync(o_s + strip * S::kLdO + n, o_frag, S::kLdO, wmma::mem_row_major);
    }
    __syncthreads();  // k_s and v_s are overwritten next
  }
  __syncthreads();  // the strips' last stores are visible (also when no key tile ran)

  // out = O / l, lse = m + log l; padding rows 0.
  for (int e = threadIdx.x; e < kRows * kDim; e += kThreads) {
    const int r = e / kDim, d = e % kDim;
    const int64_t i = first_row + r;
    if (i >= L.tokens) continue;
    const float l = l_s[r];
    const float value = i < len && l > 0.0f ? o_s[r * S::kLdO + d] / l : 0.0f;
    store_f32(out, out_dtype, L.q_row(b, i, h) + d, value);
  }
  if (threadIdx.x < kRows) {
    const int64_t i = first_row + threadIdx.x;
    const float l = l_s[threadIdx.x];
    if (i < L.tokens) lse[L.stat(b, h, i)] = i < len && l > 0.0f ? m_s[threadIdx.x] + logf(l) : 0.0f;
  }
}

// Launches one instantiation; false when the device refuses its shared memory.
template <class T, int kDim>
bool launch(const AttentionArgs& args, const Layout& L, cudaStream_t stream) {
  constexpr size_t bytes = Smem<T, kDim>::kBytes;
  int device = 0, optin = 0;
  WSI_CUDA_CHECK(cudaGetDevice(&device));
  WSI_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (size_t(optin) < bytes) return false;
  auto kernel = attention_forward_tc_kernel<T, kDim>;
  WSI_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  const dim3 grid(unsigned((L.tokens + kRows - 1) / kRows), unsigned(L.q_heads), unsigned(L.batch));
  kernel<<<grid, kThreads, bytes, stream>>>(args.out.data, args.out.dtype, args.lse.as<float>(),
                                            args.q.as<const T>(), args.k.as<const T>(), args.v.as<const T>(),
                                            args.seq_lens.defined() ? args.seq_lens.as<const int32_t>() : nullptr, L,
                                            args.softmax_scale(), args.causal);
  WSI_CUDA_CHECK_LAUNCH();
  return true;
}

}  // namespace

bool attention_forward_tensor_core(const AttentionArgs& args, cudaStream_t stream) {
  const Layout L{args.q.dim(0), args.q.dim(1), args.q.dim(2), args.k.dim(2), args.q.dim(3)};
  const bool bf16 = args.q.dtype == DType::BF16;
  if (!bf16 && args.q.dtype != DType::F16) return false;
  if (L.dim == 64) return bf16 ? launch<__nv_bfloat16, 64>(args, L, stream) : launch<__half, 64>(args, L, stream);
  if (L.dim == 128) return bf16 ? launch<__nv_bfloat16, 128>(args, L, stream) : launch<__half, 128>(args, L, stream);
  return false;
}

}  // namespace wsi::cuda

// Causal grouped-query attention forward in the FlashAttention-2 design, for bf16 / f16 inputs
// with head dim 64 or 128: the same op and results (out and lse) as attention_forward.cu. See
// wsi/ops/attention.h for the op.
//
//   q, out (B, T, Hq, D); k, v (B, T, Hkv, D); lse (B, Hq, T) f32; seq_lens (B) i32 or null.
//
// One block of 8 warps takes kRows = 128 query rows of one (b, query head); warp w owns rows
// [16w, 16w + 16) from start to end, so after each K/V tile lands the warps never talk:
//   Q      copied once (cp.async) and moved by ldmatrix into A fragments that stay in registers;
//   K, V   tiles of kKeys = 64 rows, double-buffered: tile n + 1 is in flight (16-byte cp.async,
//          zero-filled past the valid keys) while tile n is used;
//   S      = Q·Kᵀ with mma.sync m16n8k16 into f32 registers (Kᵀ by ldmatrix of K's rows);
//   P      online softmax in registers, in base 2: scores are multiplied by scale·log2(e) and
//          exponentiated with ex2, the row max and sum kept per row (the sum per lane, added
//          across the row's 4 lanes once at the end); P is rounded to the input dtype and
//          becomes the A operand of the next product without leaving registers;
//   O      += P·V into f32 registers (V by ldmatrix.trans); O·(1/l) is staged through the
//          warp's Q rows in shared memory and stored as 16-byte rows.
// Shared memory rows are 16-byte chunks swizzled by the row (mma_fragments.h), so ldmatrix and
// cp.async are free of bank conflicts: Q + 2·K + 2·V = 96 KB at D = 128, 48 KB at D = 64.
// A block whose rows are all padding writes zeros and reads nothing; a warp skips the key tiles
// none of its rows can see (causal, or past seq_lens); masking runs only on tiles that need it.
// Causal blocks are launched longest first (the last query tile has the most keys).
// Registers per thread: Q D/4, O D/2, S 32, about 225 in all at D = 128 and 155 at D = 64: one
// block of 8 warps per SM either way; scripts/ptxas-check.sh prints the counts.
//
// Hopper's wgmma + TMA would replace the mma.sync and cp.async here, with the same tiling: 128
// rows per block and one 64-key K/V stage per buffer.
#include <cfloat>
#include <cstdint>

#include "attention_common.cuh"
#include "attention_flash.cuh"
#include "attention_masks.h"
#include "attention_paths.h"
#include "check.h"

namespace wsi::cuda {
namespace {

using attn::Layout;
using frag::Coord;
using frag::swizzled_offset;

constexpr int kRows = 128, kKeys = 64, kWarps = 8, kThreads = kWarps * 32, kWarpRows = 16;
constexpr float kLn2 = 0.69314718055994531f, kLog2e = 1.4426950408889634f;

template <class T, int kDim>
struct Smem {
  static constexpr int kQ = kRows * kDim, kKV = kKeys * kDim;
  static constexpr size_t kBytes = sizeof(T) * (kQ + 4 * kKV);  // Q, K × 2 stages, V × 2 stages
};
static_assert(Smem<__nv_bfloat16, 128>::kBytes == 96 * 1024 && Smem<__half, 64>::kBytes == 48 * 1024,
              "the planned shared memory per block");

template <class T, int kDim>
// One block per SM is all the launch bounds ask: at D = 64 a cap of 128 registers (two blocks)
// fits only at the edge of spilling, which a compiler version can tip over (the CI check fails
// on spills).
__global__ void __launch_bounds__(kThreads, 1)
    attention_forward_flash_kernel(T* out, float* lse, const T* q, const T* k, const T* v, const int32_t* seq_lens,
                                   Layout L, float scale_log2, bool causal) {
  using S = Smem<T, kDim>;
  constexpr int kDimTiles = kDim / 8;    // n8 tiles of O
  constexpr int kDimSteps = kDim / 16;   // k16 steps of Q·Kᵀ
  constexpr int kKeyTiles = kKeys / 8;   // n8 tiles of S
  constexpr int kChunks = kDim / 8;      // 16-byte chunks per row
  extern __shared__ __align__(128) unsigned char smem[];
  T* q_s = reinterpret_cast<T*>(smem);
  T* k_s = q_s + S::kQ;        // two stages of kKV
  T* v_s = k_s + 2 * S::kKV;   // two stages of kKV

  const int64_t m_block = int64_t(gridDim.x) - 1 - blockIdx.x;  // longest causal rows first
  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / L.group();
  const int64_t first_row = m_block * kRows;
  const int64_t len = attn::valid_length(seq_lens, b, L.tokens);
  const int64_t q_stride = L.q_heads * kDim, kv_stride = L.kv_heads * kDim;
  T* out_head = out + (b * L.tokens * L.q_heads + h) * kDim;
  const int64_t row_end = L.tokens - first_row < kRows ? L.tokens : first_row + kRows;

  if (first_row >= len) {  // every row is padding: out 0, lse 0, nothing read
    for (int64_t e = threadIdx.x; e < (row_end - first_row) * kChunks; e += kThreads)
      reinterpret_cast<uint4*>(out_head + (first_row + e / kChunks) * q_stride)[e % kChunks] = uint4{0, 0, 0, 0};
    for (int64_t i = first_row + threadIdx.x; i < row_end; i += kThreads) lse[L.stat(b, h, i)] = 0.0f;
    return;
  }

  const T* q_head = q + (b * L.tokens * L.q_heads + h) * kDim;
  const T* k_head = k + (b * L.tokens * L.kv_heads + hkv) * kDim;
  const T* v_head = v + (b * L.tokens * L.kv_heads + hkv) * kDim;
  const int64_t key_end = mask::key_end(first_row, kRows, len, causal);
  const int tiles = int((key_end + kKeys - 1) / kKeys);

  flash::copy_tile_async<T, kRows, kDim, kThreads>(q_s, q_head, q_stride, first_row, len);
  flash::copy_tile_async<T, kKeys, kDim, kThreads>(k_s, k_head, kv_stride, 0, key_end);
  flash::copy_tile_async<T, kKeys, kDim, kThreads>(v_s, v_head, kv_stride, 0, key_end);
  flash::cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t warp_row = first_row + warp * kWarpRows;
  const int64_t warp_key_end = mask::key_end(warp_row, kWarpRows, len, causal);  // keys its rows see
  // This lane's accumulator rows (mma_c: groupID and groupID + 8) and first column pair.
  const int64_t rows[2] = {warp_row + frag::mma_c(lane, 0).row, warp_row + frag::mma_c(lane, 2).row};
  const int col_pair = frag::mma_c(lane, 0).col;
  const Coord a_src = frag::ldmatrix_a_source(lane), b_src = frag::ldmatrix_b_source(lane),
              bt_src = frag::ldmatrix_b_trans_source(lane);

  uint32_t q_frag[kDimSteps][4];
  float o[kDimTiles][4];
#pragma unroll
  for (int t = 0; t < kDimTiles; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY};  // of scale·log2(e)·s, over the keys so far
  float row_sum[2] = {0.0f, 0.0f};            // this lane's share of Σ 2^(s − row_max)

  for (int tile = 0; tile < tiles; ++tile) {
    const int stage = tile & 1;
    if (tile + 1 < tiles) {
      const int64_t next = int64_t(tile + 1) * kKeys;
      flash::copy_tile_async<T, kKeys, kDim, kThreads>(k_s + (stage ^ 1) * S::kKV, k_head, kv_stride, next, key_end);
      flash::copy_tile_async<T, kKeys, kDim, kThreads>(v_s + (stage ^ 1) * S::kKV, v_head, kv_stride, next, key_end);
      flash::cp_async_commit();
      flash::cp_async_wait<1>();  // this tile (and Q) landed; the next may still fly
    } else {
      flash::cp_async_wait<0>();
    }
    __syncthreads();

    const int64_t j0 = int64_t(tile) * kKeys;
    // Skip tiles no row of this warp sees (attention_masks.h); tile 0 is skipped only by a warp
    // whose rows are all padding (it needs no Q then).
    if (warp_row < len && j0 < warp_key_end) {
      if (tile == 0) {
#pragma unroll
        for (int kk = 0; kk < kDimSteps; ++kk)
          flash::ldmatrix_x4(q_frag[kk],
                             q_s + swizzled_offset(warp * kWarpRows + a_src.row, kk * 16 + a_src.col, kDim));
      }
      const T* ks = k_s + stage * S::kKV;
      const T* vs = v_s + stage * S::kKV;

      // S (16 rows, kKeys) = Q·Kᵀ.
      float s[kKeyTiles][4];
#pragma unroll
      for (int t = 0; t < kKeyTiles; ++t) s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < kDimSteps; ++kk) {
#pragma unroll
        for (int nn = 0; nn < kKeyTiles / 2; ++nn) {
          uint32_t kb[4];
          flash::ldmatrix_x4(kb, ks + swizzled_offset(nn * 16 + b_src.row, kk * 16 + b_src.col, kDim));
          flash::mma_16816<T>(s[2 * nn], q_frag[kk], kb[0], kb[1]);
          flash::mma_16816<T>(s[2 * nn + 1], q_frag[kk], kb[2], kb[3]);
        }
      }

      // Scale into base 2; hide keys past seq_lens and, when causal, keys after the row
      // (attention_masks.h). Padding rows are masked only with the others; their results are
      // replaced by zeros at the end.
      if (mask::all_keys_visible(warp_row, j0, kKeys, len, causal)) {
#pragma unroll
        for (int t = 0; t < kKeyTiles; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[t][e] *= scale_log2;
      } else {
        // Row r sees the tile's columns c < seen[r].
        const int seen[2] = {mask::valid_count(j0, kKeys, mask::row_key_end(rows[0], len, causal)),
                             mask::valid_count(j0, kKeys, mask::row_key_end(rows[1], len, causal))};
#pragma unroll
        for (int t = 0; t < kKeyTiles; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int c = t * 8 + col_pair + (e % 2);
            s[t][e] = c < seen[e / 2] ? s[t][e] * scale_log2 : -INFINITY;
          }
      }

      // Online softmax per row r (elements 2r, 2r + 1 of every tile).
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int t = 0; t < kKeyTiles; ++t) tile_max = fmaxf(tile_max, fmaxf(s[t][2 * r], s[t][2 * r + 1]));
        const float new_max = fmaxf(row_max[r], flash::quad_max(tile_max));
        // A row with no visible key yet keeps max −∞; subtract 0 then, so every p is 2^−∞ = 0.
        const float base = new_max == -INFINITY ? 0.0f : new_max;
        const float correction = flash::fast_exp2(row_max[r] - base);
        row_max[r] = new_max;
        float sum = 0.0f;
#pragma unroll
        for (int t = 0; t < kKeyTiles; ++t) {
          s[t][2 * r] = flash::fast_exp2(s[t][2 * r] - base);
          s[t][2 * r + 1] = flash::fast_exp2(s[t][2 * r + 1] - base);
          sum += s[t][2 * r] + s[t][2 * r + 1];
        }
        row_sum[r] = row_sum[r] * correction + sum;
#pragma unroll
        for (int t = 0; t < kDimTiles; ++t) {
          o[t][2 * r] *= correction;
          o[t][2 * r + 1] *= correction;
        }
      }

      // O += P·V: P's C fragments of key tiles 2kk, 2kk + 1 are the A fragment of step kk.
#pragma unroll
      for (int kk = 0; kk < kKeyTiles / 2; ++kk) {
        const uint32_t p[4] = {flash::pack<T>(s[2 * kk][0], s[2 * kk][1]), flash::pack<T>(s[2 * kk][2], s[2 * kk][3]),
                               flash::pack<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                               flash::pack<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
        for (int dd = 0; dd < kDimTiles / 2; ++dd) {
          uint32_t vb[4];
          flash::ldmatrix_x4_trans(vb, vs + swizzled_offset(kk * 16 + bt_src.row, dd * 16 + bt_src.col, kDim));
          flash::mma_16816<T>(o[2 * dd], p, vb[0], vb[1]);
          flash::mma_16816<T>(o[2 * dd + 1], p, vb[2], vb[3]);
        }
      }
    }
    __syncthreads();  // the next iteration's copy overwrites this stage
  }

  // out = O / l (0 for padding rows) through this warp's own Q rows; lse = ln Σ exp(scale·s).
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l = flash::quad_sum(row_sum[r]);
    const bool valid = rows[r] < len && l > 0.0f;
    inv[r] = valid ? 1.0f / l : 0.0f;
    if (lane % 4 == 0 && rows[r] < L.tokens)
      lse[L.stat(b, h, rows[r])] = valid ? row_max[r] * kLn2 + logf(l) : 0.0f;
  }
  T* staging = q_s + warp * kWarpRows * kDim;
#pragma unroll
  for (int t = 0; t < kDimTiles; ++t)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = rows[r] - warp_row;
      *reinterpret_cast<uint32_t*>(staging + swizzled_offset(row, t * 8 + col_pair, kDim)) =
          flash::pack<T>(o[t][2 * r] * inv[r], o[t][2 * r + 1] * inv[r]);
    }
  __syncwarp();
#pragma unroll
  for (int e = lane; e < kWarpRows * kChunks; e += 32) {
    const int row = e / kChunks, c = e % kChunks;
    const int64_t i = warp_row + row;
    if (i < L.tokens)
      reinterpret_cast<uint4*>(out_head + i * q_stride)[c] =
          *reinterpret_cast<const uint4*>(staging + swizzled_offset(row, c * 8, kDim));
  }
}

template <class T, int kDim>
bool launch(const AttentionArgs& args, const Layout& L, cudaStream_t stream) {
  constexpr size_t bytes = Smem<T, kDim>::kBytes;
  int device = 0, optin = 0;
  WSI_CUDA_CHECK(cudaGetDevice(&device));
  WSI_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (size_t(optin) < bytes) return false;
  auto kernel = attention_forward_flash_kernel<T, kDim>;
  WSI_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  const dim3 grid(unsigned((L.tokens + kRows - 1) / kRows), unsigned(L.q_heads), unsigned(L.batch));
  kernel<<<grid, kThreads, bytes, stream>>>(args.out.as<T>(), args.lse.as<float>(), args.q.as<const T>(),
                                            args.k.as<const T>(), args.v.as<const T>(),
                                            args.seq_lens.defined() ? args.seq_lens.as<const int32_t>() : nullptr, L,
                                            args.softmax_scale() * kLog2e, args.causal);
  WSI_CUDA_CHECK_LAUNCH();
  return true;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool attention_forward_flash(const AttentionArgs& args, cudaStream_t stream) {
  const Layout L{args.q.dim(0), args.q.dim(1), args.q.dim(2), args.k.dim(2), args.q.dim(3)};
  const bool bf16 = args.q.dtype == DType::BF16;
  if ((!bf16 && args.q.dtype != DType::F16) || args.out.dtype != args.q.dtype) return false;
  // 16-byte copies need 16-byte aligned rows (a view may start anywhere).
  if (!aligned16(args.q.data) || !aligned16(args.k.data) || !aligned16(args.v.data) || !aligned16(args.out.data))
    return false;
  if (L.dim == 64) return bf16 ? launch<__nv_bfloat16, 64>(args, L, stream) : launch<__half, 64>(args, L, stream);
  if (L.dim == 128) return bf16 ? launch<__nv_bfloat16, 128>(args, L, stream) : launch<__half, 128>(args, L, stream);
  return false;
}

}  // namespace wsi::cuda

// Causal grouped-query attention backward in the FlashAttention-2 design, for bf16 / f16 inputs
// with head dim 64 or 128: the same op and results as attention_backward.cu, whose delta kernel
// runs first (delta = rowsum(dout ∘ out), (B, Hq, T) f32). See wsi/ops/attention.h for the op.
//
//   q, dout, dq (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse, delta (B, Hq, T) f32.
//   p_ij = exp(scale·q_i·k_j − lse_i) (visible keys), ds_ij = p_ij·(dout_i·v_j − delta_i);
//   dv_j = Σ p_ij·dout_i, dk_j = scale·Σ ds_ij·q_i (over the head group), dq_i = scale·Σ ds_ij·k_j.
// All gradients are overwritten (=).
//
// dQ is a separate deterministic pass, not f32 atomics: the op has no f32 scratch of dq's size
// (its signature stays as it is), and every gradient is then bit-reproducible run to run, as
// docs/ARCHITECTURE.md ("Determinism") promises. The price is two recomputed products (S and dP
// again in the dQ pass): 7 tile GEMMs instead of FlashAttention-2's 5, about 1.4× the
// backward's tensor-core work.
//
// Both kernels: 4 warps, mma.sync m16n8k16 (bf16 / f16 in, f32 accumulate; mma_fragments.h has
// the layouts), tiles in swizzled shared memory filled by 16-byte cp.async, the next query or key
// tile in flight while the current one is used, p and ds rounded to the input dtype before they
// enter a product (as FlashAttention-2), exp2 with the scale folded with log2(e).
//  dK/dV  one block per 64 keys of one (b, key-value head); warp w owns keys [16w, 16w + 16)
//         and keeps their dK and dV in registers over every query head of the group and every
//         query tile that can see them (64 rows, taken 32 at a time):
//           Sᵀ = K·Qᵀ, Pᵀ, dV += Pᵀ·dO, dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ∘ (dPᵀ − delta), dK += dSᵀ·Q.
//         Shared memory: K, V, and Q, dO double-buffered, lse and delta: 97 KB at D = 128 (two
//         blocks per SM on H100 / H200, as the ≤ 255 registers of 128 threads also allow).
//  dQ     one block per 64 query rows of one (b, query head), longest causal rows first; warp w
//         owns rows [16w, 16w + 16) with Q and dO as A fragments in registers and dQ
//         accumulated in registers over the key tiles (64 keys, taken 32 at a time):
//           S = Q·Kᵀ, P, dP = dO·Vᵀ, dS, dQ += dS·K.
//         Shared memory: Q, dO, and K, V double-buffered: the same 97 KB block (two per SM).
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

constexpr int kTile = 64, kWarps = 4, kThreads = kWarps * 32, kWarpRows = 16;
constexpr float kLog2e = 1.4426950408889634f;
// Query (dK/dV) or key (dQ) rows a warp takes at once from a 64-row tile: 16 at D = 128 keeps the
// two f32 products (p, ds) at 8 registers each beside dK and dV's 128, without spills.
template <int kDim>
constexpr int kChunkOf = kDim == 128 ? 16 : 32;

template <class T, int kDim>
struct Smem {
  static constexpr int kT = kTile * kDim;                 // elements of one 64-row tile
  static constexpr size_t kBytes = sizeof(T) * 6 * kT     // two resident tiles, two double-buffered
                                   + sizeof(float) * 2 * 2 * kTile;  // lse, delta × 2 stages (dK/dV)
};
static_assert(Smem<__nv_bfloat16, 128>::kBytes == 97 * 1024 && Smem<__half, 64>::kBytes == 48 * 1024 + 1024,
              "the planned shared memory per block");

template <int kN>
__device__ __forceinline__ void zero(float (&acc)[kN][4]) {
#pragma unroll
  for (int t = 0; t < kN; ++t) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.0f;
}

// acc (16 rows, kChunk cols) = A (16 rows of `a_tile` from row a_row, all of D) · Bᵀ, where B's
// rows are kChunk rows of `b_tile` from b_row (both row-major (rows, D), swizzled): the S / dP
// shape, with A from shared memory.
template <class T, int kDim>
__device__ __forceinline__ void product_abt_smem(float (&acc)[kChunkOf<kDim> / 8][4], const T* a_tile, int a_row,
                                                 const T* b_tile, int b_row, Coord a_src, Coord b_src) {
  constexpr int kChunk = kChunkOf<kDim>;
#pragma unroll
  for (int kk = 0; kk < kDim / 16; ++kk) {
    uint32_t a[4];
    flash::ldmatrix_x4(a, a_tile + swizzled_offset(a_row + a_src.row, kk * 16 + a_src.col, kDim));
#pragma unroll
    for (int nn = 0; nn < kChunk / 16; ++nn) {
      uint32_t b[4];
      flash::ldmatrix_x4(b, b_tile + swizzled_offset(b_row + nn * 16 + b_src.row, kk * 16 + b_src.col, kDim));
      flash::mma_16816<T>(acc[2 * nn], a, b[0], b[1]);
      flash::mma_16816<T>(acc[2 * nn + 1], a, b[2], b[3]);
    }
  }
}

// The same with A already in registers (kDim / 16 fragments).
template <class T, int kDim>
__device__ __forceinline__ void product_abt_regs(float (&acc)[kChunkOf<kDim> / 8][4], const uint32_t (&a)[kDim / 16][4],
                                                 const T* b_tile, int b_row, Coord b_src) {
  constexpr int kChunk = kChunkOf<kDim>;
#pragma unroll
  for (int kk = 0; kk < kDim / 16; ++kk)
#pragma unroll
    for (int nn = 0; nn < kChunk / 16; ++nn) {
      uint32_t b[4];
      flash::ldmatrix_x4(b, b_tile + swizzled_offset(b_row + nn * 16 + b_src.row, kk * 16 + b_src.col, kDim));
      flash::mma_16816<T>(acc[2 * nn], a[kk], b[0], b[1]);
      flash::mma_16816<T>(acc[2 * nn + 1], a[kk], b[2], b[3]);
    }
}

// acc (16 rows, D) += X (16 × kChunk, f32 accumulators, rounded to T) · B, B being kChunk rows of
// `b_tile` from b_row (row-major (rows, D), swizzled, read with .trans).
template <class T, int kDim>
__device__ __forceinline__ void product_xb(float (&acc)[kDim / 8][4], const float (&x)[kChunkOf<kDim> / 8][4],
                                           const T* b_tile, int b_row, Coord bt_src) {
  constexpr int kChunk = kChunkOf<kDim>;
#pragma unroll
  for (int kk = 0; kk < kChunk / 16; ++kk) {
    // The C fragments of n8 tiles 2kk, 2kk + 1 are the A fragment of k step kk (a_element_from_c).
    const uint32_t a[4] = {flash::pack<T>(x[2 * kk][0], x[2 * kk][1]), flash::pack<T>(x[2 * kk][2], x[2 * kk][3]),
                           flash::pack<T>(x[2 * kk + 1][0], x[2 * kk + 1][1]),
                           flash::pack<T>(x[2 * kk + 1][2], x[2 * kk + 1][3])};
#pragma unroll
    for (int dd = 0; dd < kDim / 16; ++dd) {
      uint32_t b[4];
      flash::ldmatrix_x4_trans(b, b_tile + swizzled_offset(b_row + kk * 16 + bt_src.row, dd * 16 + bt_src.col, kDim));
      flash::mma_16816<T>(acc[2 * dd], a, b[0], b[1]);
      flash::mma_16816<T>(acc[2 * dd + 1], a, b[2], b[3]);
    }
  }
}

// Writes a warp's 16 × kDim accumulator rows (times `factor`) to tokens first.. of a (B, T, H, D)
// head (`head` points at token 0, rows `stride` apart), staged through the warp's own 16 rows
// of a swizzled tile so the stores are 16-byte rows. Rows at or past `end` are not written.
template <class T, int kDim>
__device__ __forceinline__ void store_rows(T* head, int64_t stride, int64_t first, int64_t end,
                                           const float (&acc)[kDim / 8][4], float factor, T* staging, int lane) {
  const Coord c0 = frag::mma_c(lane, 0), c2 = frag::mma_c(lane, 2);
#pragma unroll
  for (int t = 0; t < kDim / 8; ++t) {
    *reinterpret_cast<uint32_t*>(staging + swizzled_offset(c0.row, t * 8 + c0.col, kDim)) =
        flash::pack<T>(acc[t][0] * factor, acc[t][1] * factor);
    *reinterpret_cast<uint32_t*>(staging + swizzled_offset(c2.row, t * 8 + c2.col, kDim)) =
        flash::pack<T>(acc[t][2] * factor, acc[t][3] * factor);
  }
  __syncwarp();
  constexpr int kChunks = kDim / 8;
#pragma unroll
  for (int e = lane; e < kWarpRows * kChunks; e += 32) {
    const int r = e / kChunks, c = e % kChunks;
    if (first + r < end)
      reinterpret_cast<uint4*>(head + (first + r) * stride)[c] =
          *reinterpret_cast<const uint4*>(staging + swizzled_offset(r, c * 8, kDim));
  }
}

// Zeros rows [first, end) of a (B, T, H, D) head: gradients of padding.
template <class T, int kDim>
__device__ __forceinline__ void zero_rows(T* head, int64_t stride, int64_t first, int64_t end) {
  constexpr int kChunks = kDim / 8;
  for (int64_t e = threadIdx.x; e < (end - first) * kChunks; e += kThreads)
    reinterpret_cast<uint4*>(head + (first + e / kChunks) * stride)[e % kChunks] = uint4{0, 0, 0, 0};
}

struct Grads {
  const float* lse;
  const float* delta;
  const int32_t* seq_lens;
  Layout L;
  float scale;  // of the scores (natural units)
  bool causal;
};

template <class T, int kDim>
__global__ void __launch_bounds__(kThreads, 2)
    attention_dkdv_flash_kernel(T* dk, T* dv, const T* q, const T* k, const T* v, const T* dout, Grads g) {
  using S = Smem<T, kDim>;
  constexpr int kChunk = kChunkOf<kDim>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* k_s = reinterpret_cast<T*>(smem);
  T* v_s = k_s + S::kT;
  T* q_s = v_s + S::kT;        // two stages
  T* do_s = q_s + 2 * S::kT;   // two stages
  float* lse_s = reinterpret_cast<float*>(do_s + 2 * S::kT);  // two stages of kTile (log2 units)
  float* delta_s = lse_s + 2 * kTile;                         // two stages of kTile

  const Layout& L = g.L;
  const int64_t b = blockIdx.z, hkv = blockIdx.y, first_key = int64_t(blockIdx.x) * kTile;
  const int64_t len = attn::valid_length(g.seq_lens, b, L.tokens);
  const int64_t q_stride = L.q_heads * kDim, kv_stride = L.kv_heads * kDim;
  const int64_t kv_offset = (b * L.tokens * L.kv_heads + hkv) * kDim;
  const int64_t key_end_block = L.tokens - first_key < kTile ? L.tokens : first_key + kTile;
  if (first_key >= len) {  // keys that no query sees: zero gradients
    zero_rows<T, kDim>(dk + kv_offset, kv_stride, first_key, key_end_block);
    zero_rows<T, kDim>(dv + kv_offset, kv_stride, first_key, key_end_block);
    return;
  }

  // Work items: (query head of the group, 64-row query tile from q_begin); earlier queries see
  // none of these keys when causal.
  const int64_t q_begin = g.causal ? first_key : 0;
  const int tiles = int((len - q_begin + kTile - 1) / kTile);
  const int64_t group = L.group();
  const int items = int(group) * tiles;
  auto item_head = [&](int n) { return hkv * group + n / tiles; };
  auto item_row = [&](int n) { return q_begin + int64_t(n % tiles) * kTile; };
  auto load_item = [&](int n, int stage) {
    const int64_t h = item_head(n), i0 = item_row(n);
    const int64_t q_offset = (b * L.tokens * L.q_heads + h) * kDim;
    flash::copy_tile_async<T, kTile, kDim, kThreads>(q_s + stage * S::kT, q + q_offset, q_stride, i0, len);
    flash::copy_tile_async<T, kTile, kDim, kThreads>(do_s + stage * S::kT, dout + q_offset, q_stride, i0, len);
    // lse (in log2 units) and delta of the tile's rows; padding rows 0 (their p is masked anyway).
    const int r = threadIdx.x % kTile;
    const int64_t i = i0 + r;
    if (threadIdx.x < kTile)
      lse_s[stage * kTile + r] = i < len ? g.lse[L.stat(b, h, i)] * kLog2e : 0.0f;
    else
      delta_s[stage * kTile + r] = i < len ? g.delta[L.stat(b, h, i)] : 0.0f;
  };

  flash::copy_tile_async<T, kTile, kDim, kThreads>(k_s, k + kv_offset, kv_stride, first_key, len);
  flash::copy_tile_async<T, kTile, kDim, kThreads>(v_s, v + kv_offset, kv_stride, first_key, len);
  load_item(0, 0);
  flash::cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t warp_key = first_key + warp * kWarpRows;
  const int key_rows[2] = {warp * kWarpRows + frag::mma_c(lane, 0).row, warp * kWarpRows + frag::mma_c(lane, 2).row};
  const int col_pair = frag::mma_c(lane, 0).col;
  const Coord a_src = frag::ldmatrix_a_source(lane), b_src = frag::ldmatrix_b_source(lane),
              bt_src = frag::ldmatrix_b_trans_source(lane);
  const float scale_log2 = g.scale * kLog2e;

  float dk_acc[kDim / 8][4], dv_acc[kDim / 8][4];
  zero(dk_acc);
  zero(dv_acc);

  for (int n = 0; n < items; ++n) {
    const int stage = n & 1;
    if (n + 1 < items) {
      load_item(n + 1, stage ^ 1);
      flash::cp_async_commit();
      flash::cp_async_wait<1>();
    } else {
      flash::cp_async_wait<0>();
    }
    __syncthreads();

    const int64_t i0 = item_row(n);
    const T* qs = q_s + stage * S::kT;
    const T* dos = do_s + stage * S::kT;
    const float* lse_t = lse_s + stage * kTile;
    const float* delta_t = delta_s + stage * kTile;
#pragma unroll 1
    for (int c = 0; c < kTile / kChunk; ++c) {
      const int64_t chunk_row = i0 + c * kChunk;  // first query of this chunk
      // Skip the chunk when none of its queries sees any of the warp's keys.
      if (mask::none_visible(chunk_row, kChunk, warp_key, kWarpRows, len, g.causal)) continue;

      // Pᵀ (16 keys, kChunk queries) = exp2(scale·log2e·K·Qᵀ − lse·log2e), masked.
      float p[kChunk / 8][4];
      zero(p);
      product_abt_smem<T, kDim>(p, k_s, warp * kWarpRows, qs, c * kChunk, a_src, b_src);
      // Key row kr is seen by the tile's queries qc in [first_query[kr], queries) (attention_masks.h).
      const bool all_visible = mask::all_visible(chunk_row, kChunk, warp_key, kWarpRows, len, g.causal);
      const int queries = mask::valid_count(i0, kTile, len);
      const int first_query[2] = {mask::first_query(first_key + key_rows[0], i0, kTile, len, g.causal),
                                  mask::first_query(first_key + key_rows[1], i0, kTile, len, g.causal)};
#pragma unroll
      for (int t = 0; t < kChunk / 8; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int qc = c * kChunk + t * 8 + col_pair + (e % 2);  // query row in the tile
          const bool visible = all_visible || (qc < queries && qc >= first_query[e / 2]);
          p[t][e] = visible ? flash::fast_exp2(p[t][e] * scale_log2 - lse_t[qc]) : 0.0f;
        }

      // dV += Pᵀ·dO.
      product_xb<T, kDim>(dv_acc, p, dos, c * kChunk, bt_src);

      // dSᵀ = Pᵀ ∘ (V·dOᵀ − delta); dK += dSᵀ·Q.
      float ds[kChunk / 8][4];
      zero(ds);
      product_abt_smem<T, kDim>(ds, v_s, warp * kWarpRows, dos, c * kChunk, a_src, b_src);
#pragma unroll
      for (int t = 0; t < kChunk / 8; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) ds[t][e] = p[t][e] * (ds[t][e] - delta_t[c * kChunk + t * 8 + col_pair + (e % 2)]);
      product_xb<T, kDim>(dk_acc, ds, qs, c * kChunk, bt_src);
    }
    __syncthreads();  // the next iteration's copy overwrites this stage
  }

  // Each warp stages through its own K and V rows (only it ever read them).
  store_rows<T, kDim>(dk + kv_offset, kv_stride, warp_key, key_end_block, dk_acc, g.scale,
                      k_s + warp * kWarpRows * kDim, lane);
  store_rows<T, kDim>(dv + kv_offset, kv_stride, warp_key, key_end_block, dv_acc, 1.0f,
                      v_s + warp * kWarpRows * kDim, lane);
}

template <class T, int kDim>
__global__ void __launch_bounds__(kThreads, 2)
    attention_dq_flash_kernel(T* dq, const T* q, const T* k, const T* v, const T* dout, Grads g) {
  using S = Smem<T, kDim>;
  constexpr int kChunk = kChunkOf<kDim>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* q_s = reinterpret_cast<T*>(smem);
  T* do_s = q_s + S::kT;
  T* k_s = do_s + S::kT;       // two stages
  T* v_s = k_s + 2 * S::kT;    // two stages

  const Layout& L = g.L;
  const int64_t m_block = int64_t(gridDim.x) - 1 - blockIdx.x;  // longest causal rows first
  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / L.group();
  const int64_t first_row = m_block * kTile;
  const int64_t len = attn::valid_length(g.seq_lens, b, L.tokens);
  const int64_t q_stride = L.q_heads * kDim, kv_stride = L.kv_heads * kDim;
  const int64_t q_offset = (b * L.tokens * L.q_heads + h) * kDim;
  const int64_t kv_offset = (b * L.tokens * L.kv_heads + hkv) * kDim;
  const int64_t row_end = L.tokens - first_row < kTile ? L.tokens : first_row + kTile;
  if (first_row >= len) {
    zero_rows<T, kDim>(dq + q_offset, q_stride, first_row, row_end);
    return;
  }

  const int64_t key_end = mask::key_end(first_row, kTile, len, g.causal);
  const int tiles = int((key_end + kTile - 1) / kTile);
  flash::copy_tile_async<T, kTile, kDim, kThreads>(q_s, q + q_offset, q_stride, first_row, len);
  flash::copy_tile_async<T, kTile, kDim, kThreads>(do_s, dout + q_offset, q_stride, first_row, len);
  flash::copy_tile_async<T, kTile, kDim, kThreads>(k_s, k + kv_offset, kv_stride, 0, key_end);
  flash::copy_tile_async<T, kTile, kDim, kThreads>(v_s, v + kv_offset, kv_stride, 0, key_end);
  flash::cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t warp_row = first_row + warp * kWarpRows;
  const bool warp_active = warp_row < len;
  const int64_t rows[2] = {warp_row + frag::mma_c(lane, 0).row, warp_row + frag::mma_c(lane, 2).row};
  const int64_t row_key_end[2] = {mask::row_key_end(rows[0], len, g.causal), mask::row_key_end(rows[1], len, g.causal)};
  const int col_pair = frag::mma_c(lane, 0).col;
  const Coord a_src = frag::ldmatrix_a_source(lane), b_src = frag::ldmatrix_b_source(lane),
              bt_src = frag::ldmatrix_b_trans_source(lane);
  const float scale_log2 = g.scale * kLog2e;
  float lse_row[2], delta_row[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const bool valid = rows[r] < len;
    lse_row[r] = valid ? g.lse[L.stat(b, h, rows[r])] * kLog2e : 0.0f;
    delta_row[r] = valid ? g.delta[L.stat(b, h, rows[r])] : 0.0f;
  }

  uint32_t q_frag[kDim / 16][4], do_frag[kDim / 16][4];
  float dq_acc[kDim / 8][4];
  zero(dq_acc);

  for (int tile = 0; tile < tiles; ++tile) {
    const int stage = tile & 1;
    if (tile + 1 < tiles) {
      const int64_t next = int64_t(tile + 1) * kTile;
      flash::copy_tile_async<T, kTile, kDim, kThreads>(k_s + (stage ^ 1) * S::kT, k + kv_offset, kv_stride, next,
                                                      key_end);
      flash::copy_tile_async<T, kTile, kDim, kThreads>(v_s + (stage ^ 1) * S::kT, v + kv_offset, kv_stride, next,
                                                      key_end);
      flash::cp_async_commit();
      flash::cp_async_wait<1>();
    } else {
      flash::cp_async_wait<0>();
    }
    __syncthreads();

    if (warp_active && tile == 0) {
#pragma unroll
      for (int kk = 0; kk < kDim / 16; ++kk) {
        const int r = warp * kWarpRows + a_src.row, col = kk * 16 + a_src.col;
        flash::ldmatrix_x4(q_frag[kk], q_s + swizzled_offset(r, col, kDim));
        flash::ldmatrix_x4(do_frag[kk], do_s + swizzled_offset(r, col, kDim));
      }
    }
    const T* ks = k_s + stage * S::kT;
    const T* vs = v_s + stage * S::kT;
#pragma unroll 1
    for (int c = 0; c < kTile / kChunk; ++c) {
      const int64_t j0 = int64_t(tile) * kTile + c * kChunk;
      if (mask::none_visible(warp_row, kWarpRows, j0, kChunk, len, g.causal)) continue;

      // P (16 rows, kChunk keys), masked.
      float p[kChunk / 8][4];
      zero(p);
      product_abt_regs<T, kDim>(p, q_frag, ks, c * kChunk, b_src);
      // Row r sees the chunk's columns c < seen[r] (attention_masks.h).
      const bool all_visible = mask::all_visible(warp_row, kWarpRows, j0, kChunk, len, g.causal);
      const int seen[2] = {mask::valid_count(j0, kChunk, row_key_end[0]), mask::valid_count(j0, kChunk, row_key_end[1])};
#pragma unroll
      for (int t = 0; t < kChunk / 8; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int c = t * 8 + col_pair + (e % 2);
          const bool visible = all_visible || c < seen[e / 2];
          p[t][e] = visible ? flash::fast_exp2(p[t][e] * scale_log2 - lse_row[e / 2]) : 0.0f;
        }

      // dS = P ∘ (dO·Vᵀ − delta); dQ += dS·K.
      float ds[kChunk / 8][4];
      zero(ds);
      product_abt_regs<T, kDim>(ds, do_frag, vs, c * kChunk, b_src);
#pragma unroll
      for (int t = 0; t < kChunk / 8; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) ds[t][e] = p[t][e] * (ds[t][e] - delta_row[e / 2]);
      product_xb<T, kDim>(dq_acc, ds, ks, c * kChunk, bt_src);
    }
    __syncthreads();  // the next iteration's copy overwrites this stage
  }

  // Rows past len have dq_acc = 0 (their p is masked): the store writes their zeros.
  store_rows<T, kDim>(dq + q_offset, q_stride, warp_row, row_end, dq_acc, g.scale, q_s + warp * kWarpRows * kDim,
                      lane);
}

template <class T, int kDim>
bool launch(const AttentionBackwardArgs& args, const Layout& L, cudaStream_t stream) {
  constexpr size_t bytes = Smem<T, kDim>::kBytes;
  int device = 0, optin = 0;
  WSI_CUDA_CHECK(cudaGetDevice(&device));
  WSI_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (size_t(optin) < bytes) return false;
  auto dkdv = attention_dkdv_flash_kernel<T, kDim>;
  auto dq = attention_dq_flash_kernel<T, kDim>;
  WSI_CUDA_CHECK(cudaFuncSetAttribute(dkdv, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  WSI_CUDA_CHECK(cudaFuncSetAttribute(dq, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  const Grads g{args.lse.as<const float>(), args.delta.as<const float>(),
                args.seq_lens.defined() ? args.seq_lens.as<const int32_t>() : nullptr, L, args.softmax_scale(),
                args.causal};
  const unsigned tiles = unsigned((L.tokens + kTile - 1) / kTile);
  dkdv<<<dim3(tiles, unsigned(L.kv_heads), unsigned(L.batch)), kThreads, bytes, stream>>>(
      args.dk.as<T>(), args.dv.as<T>(), args.q.as<const T>(), args.k.as<const T>(), args.v.as<const T>(),
      args.dout.as<const T>(), g);
  WSI_CUDA_CHECK_LAUNCH();
  dq<<<dim3(tiles, unsigned(L.q_heads), unsigned(L.batch)), kThreads, bytes, stream>>>(
      args.dq.as<T>(), args.q.as<const T>(), args.k.as<const T>(), args.v.as<const T>(), args.dout.as<const T>(), g);
  WSI_CUDA_CHECK_LAUNCH();
  return true;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool attention_backward_flash(const AttentionBackwardArgs& args, cudaStream_t stream) {
  const Layout L{args.q.dim(0), args.q.dim(1), args.q.dim(2), args.k.dim(2), args.q.dim(3)};
  const DType t = args.q.dtype;
  if (t != DType::BF16 && t != DType::F16) return false;
  if (args.dout.dtype != t || args.dq.dtype != t || args.dk.dtype != t || args.dv.dtype != t) return false;
  for (const void* p : {args.q.data, args.k.data, args.v.data, args.dout.data, args.dq.data, args.dk.data, args.dv.data})
    if (!aligned16(p)) return false;  // 16-byte copies need 16-byte aligned rows
  const bool bf16 = t == DType::BF16;
  if (L.dim == 64) return bf16 ? launch<__nv_bfloat16, 64>(args, L, stream) : launch<__half, 64>(args, L, stream);
  if (L.dim == 128) return bf16 ? launch<__nv_bfloat16, 128>(args, L, stream) : launch<__half, 128>(args, L, stream);
  return false;
}

}  // namespace wsi::cuda

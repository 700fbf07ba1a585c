// One decode step of grouped-query attention by split-K (flash-decoding), for bf16 / f16 with
// head dim 64 or 128: the same op and result as attention_decode.cu's kernel, which remains the
// path for f32 and other head dims. See wsi/ops/attention.h for the op.
//
//   out, q (B, Hq, D); k_cache, v_cache (B, S, Hkv, D); cache_lens (B) i32 (clamped to [0, S]).
//
// Decoding reads the whole cache for one query per head: it is bound by memory bandwidth, so
// every K/V byte is read once. The query heads of one GQA group (up to 16 per block) are the
// rows of one mma.sync m16n8k16 tile, so each K/V tile is loaded once for the whole group.
//  split  grid (splits, Hkv · ⌈group / 16⌉, B): a block takes `split_keys` cache positions of one
//         (b, key-value head), walks them in tiles of 64 keys (cp.async, double-buffered,
//         swizzled as in the forward), warp w taking keys [16w, 16w + 16) of each tile with its
//         own online softmax in registers (S = Q·Kᵀ and O += P·V on tensor cores, f32
//         accumulate, exp2 with the scale folded with log2(e)). The 4 warps merge through shared
//         memory and the block writes its unnormalised O, max and sum per head (f32 scratch).
//  merge  one block per (b, query head) combines the splits: out = Σ 2^(m_s − M)·O_s / Σ 2^(m_s − M)·l_s.
// Splits are sized so that the split grid has about two blocks per SM; blocks past a sequence's
// length return at once. Shared memory: 68 KB at D = 128, 34 KB at D = 64. The scratch (B·Hq·splits·(D + 2) floats) comes from the stream-ordered
// allocator (cudaMallocAsync / cudaFreeAsync on the call's stream).
#include <cstdint>

#include "attention_flash.cuh"
#include "attention_masks.h"
#include "attention_paths.h"
#include "check.h"
#include "convert.cuh"

namespace wsi::cuda {
namespace {

using frag::Coord;
using frag::swizzled_offset;

constexpr int kKeys = 64, kWarps = 4, kThreads = kWarps * 32, kHeadRows = 16, kWarpKeys = 16;
constexpr float kLog2e = 1.4426950408889634f;

template <class T, int kDim>
struct Smem {
  static constexpr int kKV = kKeys * kDim;
  static constexpr size_t kKVBytes = sizeof(T) * 4 * kKV;  // K, V × 2 stages; then the warps' merge
  static constexpr size_t kMergeBytes = sizeof(float) * kWarps * kHeadRows * (kDim + 2);
  static_assert(kMergeBytes <= kKVBytes, "the merge area fits where the K/V tiles were");
  static constexpr size_t kBytes = kKVBytes + sizeof(T) * kHeadRows * kDim;  // + the Q tile
};
static_assert(Smem<__nv_bfloat16, 128>::kBytes == 68 * 1024 && Smem<__half, 64>::kBytes == 34 * 1024,
              "the planned shared memory per block");

struct DecodeShape {
  int64_t slots, q_heads, kv_heads;
  int64_t split_keys;  // cache positions per split (a multiple of kKeys)
  int splits, head_tiles;
};

// part_o (B, Hq, splits, D) f32 unnormalised; part_ml (B, Hq, splits, 2): max (log2 units), sum.
template <class T, int kDim>
__global__ void __launch_bounds__(kThreads)
    attention_decode_split_kernel(float* part_o, float* part_ml, const T* q, const T* k_cache, const T* v_cache,
                                  const int32_t* cache_lens, DecodeShape s, float scale_log2) {
  using S = Smem<T, kDim>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* k_s = reinterpret_cast<T*>(smem);  // two stages
  T* v_s = k_s + 2 * S::kKV;            // two stages
  T* q_s = reinterpret_cast<T*>(smem + S::kKVBytes);

  const int split = blockIdx.x;
  const int64_t b = blockIdx.z, hkv = blockIdx.y / s.head_tiles;
  const int64_t group = s.q_heads / s.kv_heads;
  const int64_t h0 = hkv * group + (blockIdx.y % s.head_tiles) * kHeadRows;  // first query head of the tile
  const int heads = int(hkv * group + group - h0 < kHeadRows ? hkv * group + group - h0 : kHeadRows);
  int64_t len = cache_lens[b];
  len = len < 0 ? 0 : (len > s.slots ? s.slots : len);
  const int64_t begin = int64_t(split) * s.split_keys;
  const int64_t end = begin + s.split_keys < len ? begin + s.split_keys : len;
  auto part = [&](int r) { return ((b * s.q_heads + h0 + r) * s.splits + split); };

  if (begin >= end) {  // nothing of this sequence here: an empty part
    if (threadIdx.x < heads) {
      part_ml[2 * part(threadIdx.x)] = -INFINITY;
      part_ml[2 * part(threadIdx.x) + 1] = 0.0f;
    }
    return;
  }

  const int64_t kv_stride = s.kv_heads * kDim;
  const T* k_head = k_cache + (b * s.slots * s.kv_heads + hkv) * kDim;
  const T* v_head = v_cache + (b * s.slots * s.kv_heads + hkv) * kDim;
  const int tiles = int((end - begin + kKeys - 1) / kKeys);
  // The group's query rows (consecutive heads), zeros past `heads`.
  flash::copy_tile_async<T, kHeadRows, kDim, kThreads>(q_s, q + (b * s.q_heads + h0) * kDim, kDim, 0, heads);
  flash::copy_tile_async<T, kKeys, kDim, kThreads>(k_s, k_head, kv_stride, begin, end);
  flash::copy_tile_async<T, kKeys, kDim, kThreads>(v_s, v_head, kv_stride, begin, end);
  flash::cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int col_pair = frag::mma_c(lane, 0).col;
  const Coord a_src = frag::ldmatrix_a_source(lane), b_src = frag::ldmatrix_b_source(lane),
              bt_src = frag::ldmatrix_b_trans_source(lane);
  uint32_t q_frag[kDim / 16][4];
  float o[kDim / 8][4];
#pragma unroll
  for (int t = 0; t < kDim / 8; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};

  for (int tile = 0; tile < tiles; ++tile) {
    const int stage = tile & 1;
    const int64_t j0 = begin + int64_t(tile) * kKeys;
    if (tile + 1 < tiles) {
      flash::copy_tile_async<T, kKeys, kDim, kThreads>(k_s + (stage ^ 1) * S::kKV, k_head, kv_stride, j0 + kKeys, end);
      flash::copy_tile_async<T, kKeys, kDim, kThreads>(v_s + (stage ^ 1) * S::kKV, v_head, kv_stride, j0 + kKeys, end);
      flash::cp_async_commit();
      flash::cp_async_wait<1>();
    } else {
      flash::cp_async_wait<0>();
    }
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int kk = 0; kk < kDim / 16; ++kk)
        flash::ldmatrix_x4(q_frag[kk], q_s + swizzled_offset(a_src.row, kk * 16 + a_src.col, kDim));
    }

    const int keys = mask::valid_count(j0 + warp * kWarpKeys, kWarpKeys, end);  // of this warp's 16
    if (keys > 0) {
      const T* ks = k_s + stage * S::kKV;
      const T* vs = v_s + stage * S::kKV;
      float sc[2][4] = {};
#pragma unroll
      for (int kk = 0; kk < kDim / 16; ++kk) {
        uint32_t kb[4];
        flash::ldmatrix_x4(kb, ks + swizzled_offset(warp * kWarpKeys + b_src.row, kk * 16 + b_src.col, kDim));
        flash::mma_16816<T>(sc[0], q_frag[kk], kb[0], kb[1]);
        flash::mma_16816<T>(sc[1], q_frag[kk], kb[2], kb[3]);
      }
#pragma unroll
      for (int t = 0; t < 2; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) sc[t][e] = t * 8 + col_pair + (e % 2) < keys ? sc[t][e] * scale_log2 : -INFINITY;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float new_max = fmaxf(row_max[r], flash::quad_max(fmaxf(fmaxf(sc[0][2 * r], sc[0][2 * r + 1]),
                                                               fmaxf(sc[1][2 * r], sc[1][2 * r + 1]))));
        const float base = new_max == -INFINITY ? 0.0f : new_max;
        const float correction = flash::fast_exp2(row_max[r] - base);
        row_max[r] = new_max;
        float sum = 0.0f;
#pragma unroll
        for (int t = 0; t < 2; ++t) {
          sc[t][2 * r] = flash::fast_exp2(sc[t][2 * r] - base);
          sc[t][2 * r + 1] = flash::fast_exp2(sc[t][2 * r + 1] - base);
          sum += sc[t][2 * r] + sc[t][2 * r + 1];
        }
        row_sum[r] = row_sum[r] * correction + sum;
#pragma unroll
        for (int t = 0; t < kDim / 8; ++t) {
          o[t][2 * r] *= correction;
          o[t][2 * r + 1] *= correction;
        }
      }
      // O += P·V: the two n8 tiles of P are the A fragment of one k16 step (a_element_from_c).
      const uint32_t p[4] = {flash::pack<T>(sc[0][0], sc[0][1]), flash::pack<T>(sc[0][2], sc[0][3]),
                             flash::pack<T>(sc[1][0], sc[1][1]), flash::pack<T>(sc[1][2], sc[1][3])};
#pragma unroll
      for (int dd = 0; dd < kDim / 16; ++dd) {
        uint32_t vb[4];
        flash::ldmatrix_x4_trans(vb, vs + swizzled_offset(warp * kWarpKeys + bt_src.row, dd * 16 + bt_src.col, kDim));
        flash::mma_16816<T>(o[2 * dd], p, vb[0], vb[1]);
        flash::mma_16816<T>(o[2 * dd + 1], p, vb[2], vb[3]);
      }
    }
    __syncthreads();  // the next iteration's copy overwrites this stage
  }

  // Merge the 4 warps through shared memory (where the K/V tiles were).
  float* m_s = reinterpret_cast<float*>(smem);    // (kWarps, 16)
  float* l_s = m_s + kWarps * kHeadRows;           // (kWarps, 16)
  float* o_s = l_s + kWarps * kHeadRows;           // (kWarps, 16, kDim)
  const int rows[2] = {frag::mma_c(lane, 0).row, frag::mma_c(lane, 2).row};
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l = flash::quad_sum(row_sum[r]);
    if (lane % 4 == 0) {
      m_s[warp * kHeadRows + rows[r]] = row_max[r];
      l_s[warp * kHeadRows + rows[r]] = l;
    }
#pragma unroll
    for (int t = 0; t < kDim / 8; ++t) {
      float* dst = o_s + (warp * kHeadRows + rows[r]) * kDim + t * 8 + col_pair;
      dst[0] = o[t][2 * r];
      dst[1] = o[t][2 * r + 1];
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < heads * kDim; e += kThreads) {
    const int r = e / kDim, d = e % kDim;
    float m = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) m = fmaxf(m, m_s[w * kHeadRows + r]);
    float l = 0.0f, value = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float mw = m_s[w * kHeadRows + r];
      if (mw == -INFINITY) continue;  // a warp that saw no key
      const float weight = flash::fast_exp2(mw - m);
      l += l_s[w * kHeadRows + r] * weight;
      value += o_s[(w * kHeadRows + r) * kDim + d] * weight;
    }
    part_o[part(r) * kDim + d] = value;
    if (d == 0) {
      part_ml[2 * part(r)] = m;
      part_ml[2 * part(r) + 1] = l;
    }
  }
}

// out[b, h] = Σ_s 2^(m_s − M)·O_s / Σ_s 2^(m_s − M)·l_s over the splits; 0 when no split saw a key.
template <int kDim>
__global__ void __launch_bounds__(kDim)
    attention_decode_merge_kernel(void* out, DType out_dtype, const float* part_o, const float* part_ml, int splits) {
  const int64_t row = int64_t(blockIdx.y) * gridDim.x + blockIdx.x;  // b · Hq + h
  const float* ml = part_ml + row * splits * 2;
  float m = -INFINITY;
  for (int i = 0; i < splits; ++i) m = fmaxf(m, ml[2 * i]);
  float l = 0.0f, value = 0.0f;
  for (int i = 0; i < splits; ++i) {
    if (ml[2 * i] == -INFINITY) continue;
    const float weight = exp2f(ml[2 * i] - m);
    l += ml[2 * i + 1] * weight;
    value += part_o[(row * splits + i) * kDim + threadIdx.x] * weight;
  }
  store_f32(out, out_dtype, row * kDim + threadIdx.x, l > 0.0f ? value / l : 0.0f);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class T, int kDim>
bool launch(const AttentionDecodeArgs& args, cudaStream_t stream) {
  using S = Smem<T, kDim>;
  const int64_t batch = args.q.dim(0), q_heads = args.q.dim(1), slots = args.k_cache.dim(1),
                kv_heads = args.k_cache.dim(2);
  const int64_t group = q_heads / kv_heads;
  const int head_tiles = int((group + kHeadRows - 1) / kHeadRows);
  int device = 0, sms = 0, optin = 0;
  WSI_CUDA_CHECK(cudaGetDevice(&device));
  WSI_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  WSI_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (size_t(optin) < S::kBytes || kv_heads * head_tiles > 65535) return false;

  // About two blocks per SM over the whole grid, at least one 64-key tile per split.
  const int64_t base_blocks = batch * kv_heads * head_tiles;
  const int64_t max_splits = slots < kKeys ? 1 : (slots + kKeys - 1) / kKeys;
  int64_t splits = (2 * int64_t(sms) + base_blocks - 1) / base_blocks;
  splits = splits < 1 ? 1 : (splits > max_splits ? max_splits : splits);
  int64_t split_keys = (slots + splits - 1) / splits;
  split_keys = (split_keys + kKeys - 1) / kKeys * kKeys;
  splits = slots == 0 ? 1 : (slots + split_keys - 1) / split_keys;
  const DecodeShape shape{slots, q_heads, kv_heads, split_keys, int(splits), head_tiles};

  const size_t parts = size_t(batch * q_heads * splits);
  void* scratch = nullptr;
  if (cudaMallocAsync(&scratch, parts * (kDim + 2) * sizeof(float), stream) != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky: fall back to the one-pass kernel
    return false;
  }
  float* part_o = static_cast<float*>(scratch);
  float* part_ml = part_o + parts * kDim;
  auto split_kernel = attention_decode_split_kernel<T, kDim>;
  WSI_CUDA_CHECK(cudaFuncSetAttribute(split_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(S::kBytes)));
  split_kernel<<<dim3(unsigned(splits), unsigned(kv_heads * head_tiles), unsigned(batch)), kThreads, S::kBytes,
                 stream>>>(part_o, part_ml, args.q.as<const T>(), args.k_cache.as<const T>(),
                           args.v_cache.as<const T>(), args.cache_lens.as<const int32_t>(), shape,
                           args.softmax_scale() * kLog2e);
  WSI_CUDA_CHECK_LAUNCH();
  attention_decode_merge_kernel<kDim><<<dim3(unsigned(q_heads), unsigned(batch)), kDim, 0, stream>>>(
      args.out.data, args.out.dtype, part_o, part_ml, int(splits));
  WSI_CUDA_CHECK_LAUNCH();
  WSI_CUDA_CHECK(cudaFreeAsync(scratch, stream));
  return true;
}

}  // namespace

bool attention_decode_flash(const AttentionDecodeArgs& args, cudaStream_t stream) {
  const DType t = args.q.dtype;
  if (t != DType::BF16 && t != DType::F16) return false;
  if (!aligned16(args.q.data) || !aligned16(args.k_cache.data) || !aligned16(args.v_cache.data)) return false;
  const int64_t dim = args.q.dim(2);
  const bool bf16 = t == DType::BF16;
  if (dim == 64) return bf16 ? launch<__nv_bfloat16, 64>(args, stream) : launch<__half, 64>(args, stream);
  if (dim == 128) return bf16 ? launch<__nv_bfloat16, 128>(args, stream) : launch<__half, 128>(args, stream);
  return false;
}

}  // namespace wsi::cuda

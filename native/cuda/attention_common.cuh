// Pieces the attention kernels share: where rows live, the valid length of a sequence, and the
// thread layout in which a few consecutive lanes own one row of D, its dims interleaved.
//
// A row of D elements is split over kRowLanes consecutive threads: lane l owns dims
// l, l + kRowLanes, l + 2·kRowLanes, … < D. Reading a shared-memory row then touches kRowLanes
// consecutive words (no bank conflicts), and a dot product is finished by kRowLanes-wide shuffles.
#pragma once

#include <cstdint>

#include "convert.cuh"

namespace wsi::cuda::attn {

constexpr int kRowLanes = 4;

// Element offsets of (b, t, h, 0) in (B, T, H, D) tensors and of (b, h, t) in (B, H, T) ones.
struct Layout {
  int64_t batch, tokens, q_heads, kv_heads, dim;
  __host__ __device__ int64_t group() const { return q_heads / kv_heads; }
  __device__ int64_t q_row(int64_t b, int64_t t, int64_t h) const { return ((b * tokens + t) * q_heads + h) * dim; }
  __device__ int64_t kv_row(int64_t b, int64_t t, int64_t h) const { return ((b * tokens + t) * kv_heads + h) * dim; }
  __device__ int64_t stat(int64_t b, int64_t h, int64_t t) const { return (b * q_heads + h) * tokens + t; }
};

// seq_lens[b] clamped to [0, limit]; `limit` when there are no lengths.
__device__ __forceinline__ int64_t valid_length(const int32_t* seq_lens, int64_t b, int64_t limit) {
  if (!seq_lens) return limit;
  const int64_t len = seq_lens[b];
  return len < 0 ? 0 : (len > limit ? limit : len);
}

// Sum over the kRowLanes lanes that share a row; every one of them gets the total. All threads
// of the warp must call it together.
__device__ __forceinline__ float row_sum(float v) {
  for (int offset = 1; offset < kRowLanes; offset *= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Loads this lane's dims of one row (zeros past D) as f32.
template <int kDims>
__device__ __forceinline__ void load_row(float (&dst)[kDims], const void* base, DType dtype, int64_t offset,
                                         int64_t dim, int lane) {
#pragma unroll
  for (int i = 0; i < kDims; ++i) {
    const int64_t d = lane + int64_t(i) * kRowLanes;
    dst[i] = d < dim ? load_f32(base, dtype, offset + d) : 0.0f;
  }
}

template <int kDims>
__device__ __forceinline__ void store_row(void* base, DType dtype, int64_t offset, const float (&src)[kDims],
                                          float factor, int64_t dim, int lane) {
#pragma unroll
  for (int i = 0; i < kDims; ++i) {
    const int64_t d = lane + int64_t(i) * kRowLanes;
    if (d < dim) store_f32(base, dtype, offset + d, src[i] * factor);
  }
}

// Copies `rows` rows (kMaxDim wide, zero-filled past D and past `valid_rows`) of a (B, T, H, D)
// tensor into shared memory as f32; row r is token first + r of head h. All threads call it.
template <int kRows, int kMaxDim>
__device__ void load_tile(float (*tile)[kMaxDim], const void* base, DType dtype, const Layout& L, bool kv, int64_t b,
                          int64_t first, int64_t h, int64_t valid_rows) {
  for (int e = threadIdx.x; e < kRows * kMaxDim; e += blockDim.x) {
    const int r = e / kMaxDim, d = e % kMaxDim;
    float value = 0.0f;
    if (r < valid_rows && d < L.dim) {
      const int64_t t = first + r;
      value = load_f32(base, dtype, (kv ? L.kv_row(b, t, h) : L.q_row(b, t, h)) + d);
    }
    tile[r][d] = value;
  }
}

}  // namespace wsi::cuda::attn

// Which (query row, key) pairs the flash-attention kernels let through, written once for the
// kernels and for the host-side test (test/native/attentionMasks.test.ts) that checks them
// against the op's rule over many lengths and tiles. Plain C++: nvcc and g++ both compile it.
//
// The rule (wsi/ops/attention.h): row i of a sequence of valid length len sees key j when
// i < len, j < len and, when causal, j <= i. Rows and keys at or past len are padding.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define WSI_MASK_FN __host__ __device__ __forceinline__ constexpr
#else
#define WSI_MASK_FN inline constexpr
#endif

namespace wsi::cuda::mask {

WSI_MASK_FN bool visible(int64_t i, int64_t j, int64_t len, bool causal) {
  return i < len && j < len && (!causal || j <= i);
}

// Keys [0, key_end) hold every key that rows [row0, row0 + rows) see; the rest can be skipped.
WSI_MASK_FN int64_t key_end(int64_t row0, int rows, int64_t len, bool causal) {
  return causal && row0 + rows < len ? row0 + rows : len;
}

// Whether every row of [row0, row0 + rows) sees every key of [j0, j0 + keys): the tile needs
// no mask.
WSI_MASK_FN bool all_visible(int64_t row0, int rows, int64_t j0, int keys, int64_t len, bool causal) {
  return row0 + rows <= len && j0 + keys <= len && (!causal || j0 + keys - 1 <= row0);
}

// Whether every row of [row0, row0 + rows) that is not padding sees every key of [j0, j0 + keys):
// enough for a kernel that discards padding rows' results anyway (the forward).
WSI_MASK_FN bool all_keys_visible(int64_t row0, int64_t j0, int keys, int64_t len, bool causal) {
  return j0 + keys <= len && (!causal || j0 + keys - 1 <= row0);
}

// Whether no row of [row0, row0 + rows) sees any key of [j0, j0 + keys): the tile is skipped.
WSI_MASK_FN bool none_visible(int64_t row0, int rows, int64_t j0, int keys, int64_t len, bool causal) {
  return row0 >= len || j0 >= len || (causal && j0 > row0 + rows - 1) || keys <= 0 || rows <= 0;
}

// The same rule in 32-bit tile coordinates, for masking in registers. Of the n indices from
// `first`, the ones below len:
WSI_MASK_FN int valid_count(int64_t first, int n, int64_t len) {
  return len - first < n ? int(len - first < 0 ? 0 : len - first) : n;
}
// Row i sees exactly the keys [0, row_key_end(i, …)): none when it is padding.
WSI_MASK_FN int64_t row_key_end(int64_t i, int64_t len, bool causal) {
  return i >= len ? 0 : (causal && i + 1 < len ? i + 1 : len);
}
// Key j is seen by query i0 + c of an n-query tile when c < valid_count(i0, n, len) and
// c >= first_query(…) (the backward's view, keys as rows).
WSI_MASK_FN int first_query(int64_t j, int64_t i0, int n, int64_t len, bool causal) {
  return j >= len ? n : !causal ? 0 : j - i0 < 0 ? 0 : (j - i0 > n ? n : int(j - i0));
}

}  // namespace wsi::cuda::mask

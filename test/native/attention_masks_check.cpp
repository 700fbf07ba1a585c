// Host-side check of native/cuda/attention_masks.h, compiled with g++ by attentionMasks.test.ts:
// the predicates the flash-attention kernels skip and mask tiles by, against the op's rule
// (mask::visible), over every valid length up to a few tiles, tile origins on the kernels'
// 16-row grid, the tile widths they use (16, 32, 64 keys; 16, 32, 64 rows, and the forward's
// 128-row blocks for key_end), causal or not.
// Prints the first failures, one a line, then "checked N tiles"; exits 1 on any failure.
#include <cstdio>
#include <initializer_list>

#include "attention_masks.h"

using namespace wsi::cuda::mask;

namespace {

int failures = 0;

void fail(const char* what, long len, long row0, int rows, long j0, int keys, bool causal) {
  if (++failures <= 20)
    std::printf("%s: len %ld, rows [%ld, +%d), keys [%ld, +%d), causal %d\n", what, len, row0, rows, j0, keys, causal);
}

}  // namespace

int main() {
  long tiles = 0;
  for (long len = 0; len <= 150; ++len)
    for (int causal = 0; causal < 2; ++causal)
      for (int rows : {16, 32, 64, 128})
        for (long row0 = 0; row0 <= 192; row0 += 16) {
          // key_end: no row of the block sees a key at or past it, and some row sees the key
          // just below it whenever any row is valid.
          const long end = key_end(row0, rows, len, causal);
          long last_seen = -1;
          for (long i = row0; i < row0 + rows; ++i)
            for (long j = 0; j < 256; ++j)
              if (visible(i, j, len, causal) && j > last_seen) last_seen = j;
          if (last_seen >= end || (row0 < len && last_seen + 1 != end)) fail("key_end", len, row0, rows, 0, 0, causal);

          if (rows == 128) continue;  // whole blocks only for key_end
          for (int keys : {16, 32, 64})
            for (long j0 = 0; j0 <= 192; j0 += 16) {
              ++tiles;
              bool any = false, all = true, all_of_valid_rows = true;
              for (long i = row0; i < row0 + rows; ++i) {
                const int seen = valid_count(j0, keys, row_key_end(i, len, causal));
                for (int c = 0; c < keys; ++c) {
                  const bool v = visible(i, j0 + c, len, causal);
                  any = any || v;
                  all = all && v;
                  if (i < len) all_of_valid_rows = all_of_valid_rows && v;
                  if ((c < seen) != v) fail("valid_count / row_key_end", len, row0, rows, j0, keys, causal);
                }
              }
              if (none_visible(row0, rows, j0, keys, len, causal) != !any) fail("none_visible", len, row0, rows, j0, keys, causal);
              if (all_visible(row0, rows, j0, keys, len, causal) && !all) fail("all_visible", len, row0, rows, j0, keys, causal);
              if (all_keys_visible(row0, j0, keys, len, causal) && !all_of_valid_rows)
                fail("all_keys_visible", len, row0, rows, j0, keys, causal);
              // The backward's view: keys [j0, j0 + keys) as rows, the queries from row0 as columns.
              const int queries = valid_count(row0, rows, len);
              for (long j = j0; j < j0 + keys; ++j) {
                const int first = first_query(j, row0, rows, len, causal);
                for (int c = 0; c < rows; ++c)
                  if ((c < queries && c >= first) != visible(row0 + c, j, len, causal))
                    fail("valid_count / first_query", len, row0, rows, j0, keys, causal);
              }
            }
        }
  std::printf("checked %ld tiles\n", tiles);
  return failures == 0 ? 0 : 1;
}

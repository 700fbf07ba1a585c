// Host-side check of native/cuda/embedding_groups.h, compiled with g++ by embeddingGroups.test.ts:
// for random id vectors (some ids repeated many times, some rows without a token, id -1) the
// groups cover every row with a token once, ids ascending and rows ascending within an id; and
// the fixed-order kernel's sums, replayed here in f32 group by group, are bit for bit the CPU
// backend's (rows in order, each added to its id's row of the table).
// Prints the seed, the first failures, one a line, then "checked N cases"; exits 1 on a failure.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "embedding_groups.h"

using wsi::cuda::group_rows_by_id;

namespace {

int failures = 0;

void fail(int case_index, const char* what) {
  if (++failures <= 20) std::printf("case %d: %s\n", case_index, what);
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  const int cases = 400;
  for (int c = 0; c < cases; ++c) {
    const int rows = int(rng() % 300), vocab = 1 + int(rng() % 40), width = 1 + int(rng() % 9);
    std::vector<int32_t> ids(static_cast<size_t>(rows));
    for (auto& id : ids) id = rng() % 5 == 0 ? -1 : int32_t(rng() % uint32_t(vocab));
    const auto groups = group_rows_by_id(ids);
    const int32_t* group_ids = groups.packed.data();
    const int32_t* starts = groups.packed.data() + groups.starts_at();
    const int32_t* members = groups.packed.data() + groups.rows_at();

    // Structure: ids ascending, rows ascending within an id, every row with a token exactly once.
    std::vector<int> seen(static_cast<size_t>(rows), 0);
    int with_token = 0;
    for (int32_t id : ids) with_token += id >= 0;
    if (groups.packed.size() != size_t(2 * groups.groups + 1 + with_token)) fail(c, "packed size");
    if (starts[groups.groups] != with_token) fail(c, "last start");
    for (int s = 0; s < groups.groups; ++s) {
      if (s > 0 && group_ids[s] <= group_ids[s - 1]) fail(c, "ids not ascending");
      if (starts[s + 1] <= starts[s]) fail(c, "empty group");
      for (int k = starts[s]; k < starts[s + 1]; ++k) {
        if (ids[size_t(members[k])] != group_ids[s]) fail(c, "row in the wrong group");
        if (k > starts[s] && members[k] <= members[k - 1]) fail(c, "rows not ascending");
        ++seen[size_t(members[k])];
      }
    }
    for (int r = 0; r < rows; ++r)
      if (seen[size_t(r)] != (ids[size_t(r)] >= 0 ? 1 : 0)) fail(c, "row not covered once");

    // Sums: the kernel's order against the CPU backend's, in f32, bit for bit.
    std::uniform_real_distribution<float> value(-3.0f, 3.0f);
    std::vector<float> dy(size_t(rows) * size_t(width)), start_table(size_t(vocab) * size_t(width));
    for (auto& x : dy) x = value(rng);
    for (auto& x : start_table) x = value(rng);
    std::vector<float> cpu = start_table, grouped = start_table;
    for (int r = 0; r < rows; ++r)
      if (ids[size_t(r)] >= 0)
        for (int j = 0; j < width; ++j) cpu[size_t(ids[size_t(r)]) * size_t(width) + size_t(j)] += dy[size_t(r) * size_t(width) + size_t(j)];
    for (int s = 0; s < groups.groups; ++s)
      for (int j = 0; j < width; ++j) {
        float& target = grouped[size_t(group_ids[s]) * size_t(width) + size_t(j)];
        float sum = target;
        for (int k = starts[s]; k < starts[s + 1]; ++k) sum += dy[size_t(members[k]) * size_t(width) + size_t(j)];
        target = sum;
      }
    if (std::memcmp(cpu.data(), grouped.data(), cpu.size() * sizeof(float)) != 0) fail(c, "sums differ from the CPU order");
  }
  std::printf("checked %d cases\n", cases);
  return failures == 0 ? 0 : 1;
}

// The rows of an embedding backward grouped by id, on the host, for the fixed-order CUDA kernel
// (embedding.cu): ids ascending, and each id's rows ascending, so that adding a group's rows in
// order is the CPU backend's order of additions. Host-only; checked by
// test/native/embedding_groups_check.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace wsi::cuda {

// One vector [group ids (G) | group starts (G + 1) | rows], for a single copy to the device:
// group s is the id packed[s] with the rows rows[start[s] .. start[s + 1]). Rows whose id is
// negative (no token) are left out.
struct IdGroups {
  std::vector<int32_t> packed;
  int groups = 0;

  // Where the starts and the rows begin in packed (the ids begin at 0).
  size_t starts_at() const { return size_t(groups); }
  size_t rows_at() const { return 2 * size_t(groups) + 1; }
};

inline IdGroups group_rows_by_id(const std::vector<int32_t>& ids) {
  std::vector<int32_t> rows;
  for (size_t r = 0; r < ids.size(); ++r)
    if (ids[r] >= 0) rows.push_back(int32_t(r));
  std::stable_sort(rows.begin(), rows.end(), [&](int32_t a, int32_t b) { return ids[size_t(a)] < ids[size_t(b)]; });
  std::vector<int32_t> group_ids, starts;
  for (size_t k = 0; k < rows.size(); ++k) {
    if (k > 0 && ids[size_t(rows[k])] == ids[size_t(rows[k - 1])]) continue;
    group_ids.push_back(ids[size_t(rows[k])]);
    starts.push_back(int32_t(k));
  }
  starts.push_back(int32_t(rows.size()));
  IdGroups groups;
  groups.groups = int(group_ids.size());
  groups.packed.reserve(group_ids.size() + starts.size() + rows.size());
  for (const auto* part : {&group_ids, &starts, &rows}) groups.packed.insert(groups.packed.end(), part->begin(), part->end());
  return groups;
}

}  // namespace wsi::cuda

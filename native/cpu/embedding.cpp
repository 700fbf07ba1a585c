// The token embedding and its backward on the CPU (wsi/ops/qwen3.h).
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/error.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {

void embedding(const EmbeddingArgs& args, const ExecContext&) {
  const int64_t rows = args.ids.dim(0), vocab = args.table.dim(0), width = args.table.dim(1);
  const int32_t* ids = args.ids.as<int32_t>();
  for (int64_t r = 0; r < rows; ++r)
    WSI_CHECK(ids[r] >= 0 && ids[r] < vocab, ErrorCode::ShapeMismatch, "embedding: ids[", r, "] = ", ids[r],
              " is outside the table's ", vocab, " rows");
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(width));
    for (int64_t r = begin; r < end; ++r) {
      load_f32(args.table, int64_t(ids[r]) * width, width, row.data());
      store_f32(row.data(), args.out, r * width, width);
    }
  });
}

// Columns are split over the pool, so rows with the same id never race.
void embedding_backward(const EmbeddingBackwardArgs& args, const ExecContext&) {
  const int64_t rows = args.ids.dim(0), vocab = args.dtable.dim(0), width = args.dtable.dim(1);
  const int32_t* ids = args.ids.as<int32_t>();
  for (int64_t r = 0; r < rows; ++r)
    WSI_CHECK(ids[r] >= -1 && ids[r] < vocab, ErrorCode::ShapeMismatch, "embedding_backward: ids[", r, "] = ", ids[r],
              " is outside the table's ", vocab, " rows");
  float* dtable = args.dtable.as<float>();
  parallel_for(width, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> dy(static_cast<size_t>(end - begin));
    for (int64_t r = 0; r < rows; ++r) {
      if (ids[r] < 0) continue;
      load_f32(args.dy, r * width + begin, end - begin, dy.data());
      float* out = dtable + int64_t(ids[r]) * width + begin;
      for (size_t j = 0; j < dy.size(); ++j) out[j] += dy[j];
    }
  });
}

}  // namespace wsi::cpu

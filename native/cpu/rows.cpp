// Moving rows: swapping the two leading axes of (A, B, D), gathering rows by index, putting rows
// at given indices, and scattering them into a zeroed matrix (zero, then put).
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/error.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

// Checks that index holds rows in [0, rows) and returns it.
const int32_t* checked_index(const char* op, const Tensor& index, int64_t rows) {
  const int32_t* idx = index.as<int32_t>();
  for (int64_t i = 0; i < index.dim(0); ++i)
    WSI_CHECK(idx[i] >= 0 && idx[i] < rows, ErrorCode::ShapeMismatch, op, ": index[", i, "] = ", idx[i],
              " is outside [0, ", rows, ")");
  return idx;
}

void copy_row(const Tensor& from, int64_t from_row, const Tensor& to, int64_t to_row, int64_t width,
              std::vector<float>& line) {
  load_f32(from, from_row * width, width, line.data());
  store_f32(line.data(), to, to_row * width, width);
}

// to[idx[i], :] = from[i, :] for every row i of from.
void put_indexed_rows(const Tensor& from, const Tensor& to, const int32_t* idx) {
  const int64_t h = from.dim(1);
  parallel_for(from.dim(0), std::max<int64_t>(1, 16384 / std::max<int64_t>(h, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> line(static_cast<size_t>(h));
    for (int64_t i = begin; i < end; ++i) copy_row(from, i, to, idx[i], h, line);
  });
}

}  // namespace

void swap_axes01(const SwapAxes01Args& args, const ExecContext&) {
  const int64_t a = args.x.dim(0), b = args.x.dim(1), d = args.x.dim(2);
  parallel_for(a * b, std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> line(static_cast<size_t>(d));
    for (int64_t r = begin; r < end; ++r) copy_row(args.x, r, args.out, (r % b) * a + r / b, d, line);
  });
}

void gather_rows(const GatherRowsArgs& args, const ExecContext&) {
  const int32_t* idx = checked_index("gather_rows", args.index, args.x.dim(0));
  const int64_t h = args.x.dim(1);
  parallel_for(args.out.dim(0), std::max<int64_t>(1, 16384 / std::max<int64_t>(h, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> line(static_cast<size_t>(h));
    for (int64_t i = begin; i < end; ++i) copy_row(args.x, idx[i], args.out, i, h, line);
  });
}

void put_rows(const PutRowsArgs& args, const ExecContext&) {
  put_indexed_rows(args.x, args.out, checked_index("put_rows", args.index, args.out.dim(0)));
}

void scatter_rows(const ScatterRowsArgs& args, const ExecContext& ctx) {
  const int32_t* idx = checked_index("scatter_rows", args.index, args.out.dim(0));
  fill(FillArgs{args.out, 0.0f}, ctx);
  put_indexed_rows(args.x, args.out, idx);
}

}  // namespace wsi::cpu

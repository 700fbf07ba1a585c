// Elementwise ops on the CPU: add, scale. Work in f32 blocks so any dtype mix costs one
// conversion per element.
#include <algorithm>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

constexpr int64_t kBlock = 4096;  // elements per conversion block: 16 KB of f32, stays in L1

// Calls body(offset, count, buffers...) over t's elements in blocks, in parallel.
template <class Body>
void for_blocks(int64_t numel, Body body) {
  const int64_t blocks = (numel + kBlock - 1) / kBlock;
  parallel_for(blocks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t offset = b * kBlock;
      body(offset, std::min(kBlock, numel - offset));
    }
  });
}

}  // namespace

void add(const AddArgs& args, const ExecContext&) {
  for_blocks(args.out.numel(), [&](int64_t offset, int64_t count) {
    float a[kBlock], b[kBlock];
    load_f32(args.a, offset, count, a);
    load_f32(args.b, offset, count, b);
    for (int64_t i = 0; i < count; ++i) a[i] = args.alpha * a[i] + args.beta * b[i];
    store_f32(a, args.out, offset, count);
  });
}

void scale(const ScaleArgs& args, const ExecContext&) {
  for_blocks(args.out.numel(), [&](int64_t offset, int64_t count) {
    float x[kBlock];
    load_f32(args.x, offset, count, x);
    for (int64_t i = 0; i < count; ++i) x[i] *= args.scale;
    store_f32(x, args.out, offset, count);
  });
}

void sum_rows(const SumRowsArgs& args, const ExecContext&) {
  const int64_t rows = args.x.rows(), cols = args.x.dim(-1);
  // Columns are independent: split them over threads, each summing its columns over all rows.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(rows, 1));
  parallel_for(cols, grain, [&](int64_t begin, int64_t end) {
    const int64_t width = end - begin;
    std::vector<float> sum(size_t(width), 0.0f), row(static_cast<size_t>(width));
    if (args.accumulate) load_f32(args.out, begin, width, sum.data());
    for (int64_t r = 0; r < rows; ++r) {
      load_f32(args.x, r * cols + begin, width, row.data());
      for (int64_t c = 0; c < width; ++c) sum[size_t(c)] += row[size_t(c)];
    }
    store_f32(sum.data(), args.out, begin, width);
  });
}

}  // namespace wsi::cpu

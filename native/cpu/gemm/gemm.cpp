// The GEMM's blocking and threads. The rows of out are taken in rounds of up to ~1024; a round's
// rows of a are packed once (all of k) and shared by every thread. The round's out is cut into
// tiles of whole micro-tiles, enough for every thread to take several, and the threads take
// tiles. A tile walks k in blocks of kKc: it packs b's (kKc × tile columns) block — read once
// per round, kept in L2 — then runs the micro-kernel over every (mr × nr) cell, summing into an
// f32 copy of its out block, which the epilogue (alpha, beta, bias, rounding to out's dtype)
// writes once at the end.
//
// Every out element is the same chain of fused multiply-adds over k in order however rounds,
// tiles and threads fall (the kernel continues the chain from its own f32 partial sum), so the
// result does not depend on the number of threads. A few rows against a weight stored (out, in)
// go to gemv.h instead.
#include "gemm.h"

#include <algorithm>
#include <vector>

#include "gemv.h"
#include "kernels.h"
#include "packing.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

constexpr int64_t kKc = 256;            // k per packed block: an a panel (12 × 256 f32) in L1
constexpr int64_t kMaxTileCols = 512;   // a b block of 256 × 512 f32 is 512 KB, in L2
constexpr int64_t kMaxTileFloats = 1 << 18;  // a tile's f32 sums: at most 1 MB per thread
constexpr int64_t kRoundRows = 1024;    // rows of a packed at once (1024 × k f32): b is packed once per round
constexpr double kParallelFlops = 1e6;  // below this, handing work to the pool costs more than it saves

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A per-thread f32 buffer; tiles never nest, so one per purpose and thread is enough.
float* tile_buffer(std::vector<float>& buffer, int64_t count) {
  if (buffer.size() < size_t(count)) buffer.resize(size_t(count));
  return buffer.data();
}

struct Problem {
  int64_t m, n, k;
  const GemmInput& a;
  const GemmInput& b;
  const GemmOutput& out;
  const GemmEpilogue& epilogue;
  const MicroKernel& kernel;
};

// The packed rows [r0, r0 + panels·mr) of a: block by block of k, panel by panel within a block.
struct PackedRows {
  int64_t r0, rows, panels;
  std::vector<float> data;  // panels·mr × k
  const float* panel(int64_t k0, int64_t kc, int64_t p, int64_t mr) const {
    return data.data() + k0 * panels * mr + p * mr * kc;
  }
};

void pack_rows(const Problem& P, PackedRows& rows, bool threaded) {
  const int64_t mr = P.kernel.mr, blocks = ceil_div(P.k, kKc);
  auto pack = [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t k0 = task / rows.panels * kKc, kc = std::min(kKc, P.k - k0), p = task % rows.panels;
      const int64_t i0 = rows.r0 + p * mr;
      pack_a_panel(P.a, i0, std::min(mr, rows.r0 + rows.rows - i0), k0, kc, P.kernel,
                   rows.data.data() + k0 * rows.panels * mr + p * mr * kc);
    }
  };
  if (threaded)
    parallel_for(blocks * rows.panels, 4, pack);
  else
    pack(0, blocks * rows.panels);
}

// out rows [i0, i0 + rows) × columns [j0, j0 + cols) of the round; i0 is a multiple of mr from the
// round's first row.
void run_tile(const Problem& P, const PackedRows& packed, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
  const MicroKernel& K = P.kernel;
  const int64_t mr = K.mr, nr = K.nr;
  const int64_t row_panels = ceil_div(rows, mr), col_panels = ceil_div(cols, nr), ldc = col_panels * nr;
  thread_local std::vector<float> c_buffer, b_buffer;
  float* c = tile_buffer(c_buffer, row_panels * mr * ldc);
  float* bp = tile_buffer(b_buffer, kKc * ldc);
  if (P.k == 0) std::fill(c, c + row_panels * mr * ldc, 0.0f);
  const int64_t first_panel = (i0 - packed.r0) / mr;
  for (int64_t k0 = 0; k0 < P.k; k0 += kKc) {
    const int64_t kc = std::min(kKc, P.k - k0);
    for (int64_t q = 0; q < col_panels; ++q)
      pack_b_panel(P.b, k0, kc, j0 + q * nr, std::min(nr, cols - q * nr), K, bp + q * kc * nr);
    for (int64_t p = 0; p < row_panels; ++p) {
      const float* ap = packed.panel(k0, kc, first_panel + p, mr);
      for (int64_t q = 0; q < col_panels; ++q) K.run(kc, ap, bp + q * kc * nr, c + p * mr * ldc + q * nr, ldc, k0 == 0);
    }
  }
  // Epilogue: out = alpha · sum + beta · out + bias, rounded once to out's dtype.
  thread_local std::vector<float> old_buffer;
  float* old = tile_buffer(old_buffer, cols);
  for (int64_t i = 0; i < rows; ++i) finish_row(c + i * ldc, cols, P.out, i0 + i, j0, P.epilogue, old);
}

}  // namespace

void gemm(int64_t m, int64_t n, int64_t k, const GemmInput& a, const GemmInput& b, const GemmOutput& out,
          const GemmEpilogue& epilogue, bool parallel) {
  if (m <= 0 || n <= 0) return;
  if (gemv_suits(m, a, b)) return gemv(m, n, k, a, b, out, epilogue, parallel);
  const Problem P{m, n, k, a, b, out, epilogue, micro_kernel()};
  const int64_t mr = P.kernel.mr, nr = P.kernel.nr;
  const int threads = parallel && 2.0 * double(m) * double(n) * double(k) >= kParallelFlops ? cpu_threads() : 1;
  const int64_t round_rows = ceil_div(std::min(m, kRoundRows), mr) * mr;

  PackedRows packed;
  packed.data.resize(size_t(round_rows * std::max<int64_t>(k, 1)));
  for (int64_t r0 = 0; r0 < m; r0 += round_rows) {
    packed.r0 = r0;
    packed.rows = std::min(round_rows, m - r0);
    packed.panels = ceil_div(packed.rows, mr);
    pack_rows(P, packed, threads > 1);

    // Tiles: columns in blocks of at most kMaxTileCols (fewer when the round has many rows); with
    // several threads, cut finer (columns first, then rows) until there are three tiles a thread,
    // so uneven tiles even out.
    const int64_t col_panels = ceil_div(n, nr), wanted = threads > 1 ? 3 * int64_t(threads) : 1;
    const int64_t max_cols = std::clamp(kMaxTileFloats / (packed.panels * mr) / nr * nr, nr, kMaxTileCols);
    int64_t col_tiles = std::max(ceil_div(n, max_cols), std::min(col_panels, wanted)), row_tiles = 1;
    if (col_tiles < wanted) row_tiles = std::min(packed.panels, ceil_div(wanted, col_tiles));
    const int64_t tile_cols = ceil_div(col_panels, col_tiles) * nr, tile_rows = ceil_div(packed.panels, row_tiles) * mr;
    col_tiles = ceil_div(n, tile_cols);
    row_tiles = ceil_div(packed.rows, tile_rows);
    auto tiles = [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t i0 = r0 + t / col_tiles * tile_rows, j0 = t % col_tiles * tile_cols;
        run_tile(P, packed, i0, std::min(tile_rows, r0 + packed.rows - i0), j0, std::min(tile_cols, n - j0));
      }
    };
    if (threads > 1)
      parallel_for(row_tiles * col_tiles, 1, tiles);
    else
      tiles(0, row_tiles * col_tiles);
  }
}

}  // namespace wsi::cpu

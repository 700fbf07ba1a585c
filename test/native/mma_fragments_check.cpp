// Host-side check of native/cuda/mma_fragments.h, compiled with g++ by mmaFragments.test.ts.
//
// Prints one JSON object:
//   tables    who holds each element of the m16n8k16 A, B and C/D fragments and of an ldmatrix
//             8×8 matrix (plain and .trans), as "T<lane>:<register element>" per row, for the
//             test to compare with the PTX ISA's figures;
//   failures  what the emulation below found wrong (empty when all is well).
// The emulation runs the attention kernels' two products on the host exactly as the kernels
// index them: tiles in swizzled shared memory, ldmatrix.x4 (plain and .trans) from the lanes'
// row addresses, mma.sync by the ISA's fragment rules, the S accumulators repacked as the A
// operand of P·V. Small integers keep every product exact, so any index slip is an exact miss.
// It also checks that every ldmatrix phase (8 lanes) touches 8 distinct 16-byte bank groups.
#include <array>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "mma_fragments.h"

using namespace wsi::cuda::frag;

namespace {

std::vector<std::string> failures;

void fail(const std::string& what) {
  if (failures.size() < 20) failures.push_back(what);
}

// Owner table of a rows×cols fragment: element e of lane l sits at where(l, e).
template <class Where>
std::vector<std::string> owners(int rows, int cols, int elements, const char* name, Where where) {
  std::vector<std::string> cell(rows * cols);
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < elements; ++e) {
      const Coord c = where(lane, e);
      if (c.row < 0 || c.row >= rows || c.col < 0 || c.col >= cols) {
        fail(std::string(name) + ": lane " + std::to_string(lane) + " element " + std::to_string(e) + " is outside");
        continue;
      }
      std::string& slot = cell[c.row * cols + c.col];
      if (!slot.empty()) fail(std::string(name) + ": two owners of (" + std::to_string(c.row) + ", " + std::to_string(c.col) + ")");
      slot = "T" + std::to_string(lane) + ":" + name + std::to_string(e);
    }
  std::vector<std::string> lines;
  for (int r = 0; r < rows; ++r) {
    std::string line;
    for (int c = 0; c < cols; ++c) line += (c ? " " : "") + (cell[r * cols + c].empty() ? std::string("?") : cell[r * cols + c]);
    lines.push_back(line);
  }
  return lines;
}

// A row-major tile of `rows` × `width` 16-bit values as the kernels keep it in shared memory.
struct Tile {
  int rows, width;
  std::vector<float> smem;
  Tile(int rows_, int width_) : rows(rows_), width(width_), smem(rows_ * width_, 0.0f) {}
  void set(int r, int c, float v) { smem[swizzled_offset(r, c, width)] = v; }
};

// ldmatrix.x4: lane l supplies the row address (row, col) = source(l) + origin; register m of
// every lane receives two elements of matrix m. Also checks the bank groups of each phase.
using Regs = std::array<std::array<float, 8>, 32>;  // [lane][register·2 + element]
template <class Source>
Regs ldmatrix_x4(const Tile& t, int row0, int col0, bool trans, Source source, const char* what) {
  std::array<int, 32> address{};
  for (int lane = 0; lane < 32; ++lane) {
    const Coord s = source(lane);
    address[lane] = swizzled_offset(row0 + s.row, col0 + s.col, t.width);
    if ((col0 + s.col) % 8 != 0) fail(std::string(what) + ": a row address inside a 16-byte chunk");
  }
  for (int phase = 0; phase < 4; ++phase) {
    std::set<int> groups;
    for (int lane = 8 * phase; lane < 8 * phase + 8; ++lane) groups.insert((address[lane] * 2 / 16) % 8);
    if (groups.size() != 8) fail(std::string(what) + ": bank conflict in phase " + std::to_string(phase));
  }
  Regs regs{};
  for (int m = 0; m < 4; ++m)
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 2; ++e) {
        const Coord c = ldmatrix_element(lane, e, trans);
        const int row_lane = 8 * m + c.row;  // lanes 8m .. 8m + 7 address the rows of matrix m
        regs[lane][2 * m + e] = t.smem[address[row_lane] + c.col];
      }
  return regs;
}

// mma.sync m16n8k16: d (16×8) += a (16×16) · b (16×8), each given as per-lane fragments.
void mma(std::array<std::array<float, 4>, 32>& d, const std::array<std::array<float, 8>, 32>& a,
         const std::array<std::array<float, 4>, 32>& b) {
  float A[16][16] = {}, B[16][8] = {}, D[16][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int e = 0; e < 8; ++e) A[mma_a(lane, e).row][mma_a(lane, e).col] = a[lane][e];
    for (int e = 0; e < 4; ++e) B[mma_b(lane, e).row][mma_b(lane, e).col] = b[lane][e];
    for (int e = 0; e < 4; ++e) D[mma_c(lane, e).row][mma_c(lane, e).col] = d[lane][e];
  }
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c)
      for (int k = 0; k < 16; ++k) D[r][c] += A[r][k] * B[k][c];
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e) d[lane][e] = D[mma_c(lane, e).row][mma_c(lane, e).col];
}

std::array<std::array<float, 4>, 32> b_part(const Regs& r, int first_register) {
  std::array<std::array<float, 4>, 32> b{};
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e) b[lane][e] = r[lane][2 * first_register + e];
  return b;
}

// One warp's S = Q·Kᵀ (16 × keys) and O = S·V (16 × dim) as the forward kernel computes them.
void check_products(int dim) {
  const int keys = 64;
  const std::string what = "D " + std::to_string(dim);
  Tile q(16, dim), k(keys, dim), v(keys, dim);
  auto value = [](int a, int b, int salt) { return float((a * 7 + b * 3 + salt) % 5 - 2); };
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < dim; ++c) q.set(r, c, value(r, c, 1));
  for (int r = 0; r < keys; ++r)
    for (int c = 0; c < dim; ++c) {
      k.set(r, c, value(r, c, 2));
      v.set(r, c, value(c, r, 3));
    }
  auto at = [](const Tile& t, int r, int c) { return t.smem[swizzled_offset(r, c, t.width)]; };

  // Q's A fragments, then S by key-tile pairs.
  std::vector<Regs> q_frag;
  for (int kk = 0; kk < dim / 16; ++kk) q_frag.push_back(ldmatrix_x4(q, 0, kk * 16, false, ldmatrix_a_source, "Q"));
  std::vector<std::array<std::array<float, 4>, 32>> s(keys / 8);
  for (auto& tile : s)
    for (auto& lane : tile) lane.fill(0.0f);
  for (int kk = 0; kk < dim / 16; ++kk)
    for (int nn = 0; nn < keys / 16; ++nn) {
      const Regs kb = ldmatrix_x4(k, nn * 16, kk * 16, false, ldmatrix_b_source, "K");
      mma(s[2 * nn], q_frag[kk], b_part(kb, 0));
      mma(s[2 * nn + 1], q_frag[kk], b_part(kb, 2));
    }
  float S[16][64] = {};
  for (int r = 0; r < 16; ++r)
    for (int j = 0; j < keys; ++j)
      for (int d = 0; d < dim; ++d) S[r][j] += at(q, r, d) * at(k, j, d);
  for (int t = 0; t < keys / 8; ++t)
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        const Coord c = mma_c(lane, e);
        if (s[t][lane][e] != S[c.row][t * 8 + c.col])
          fail(what + ": S(" + std::to_string(c.row) + ", " + std::to_string(t * 8 + c.col) + ") is wrong");
      }

  // O = S·V with S's accumulators as the A operand, V by ldmatrix.trans.
  std::vector<std::array<std::array<float, 4>, 32>> o(dim / 8);
  for (auto& tile : o)
    for (auto& lane : tile) lane.fill(0.0f);
  for (int kk = 0; kk < keys / 16; ++kk) {
    std::array<std::array<float, 8>, 32> p{};
    for (int lane = 0; lane < 32; ++lane)
      for (int tile = 0; tile < 2; ++tile)
        for (int e = 0; e < 4; ++e) p[lane][a_element_from_c(tile, e)] = s[2 * kk + tile][lane][e];
    for (int dd = 0; dd < dim / 16; ++dd) {
      const Regs vb = ldmatrix_x4(v, kk * 16, dd * 16, true, ldmatrix_b_trans_source, "V");
      mma(o[2 * dd], p, b_part(vb, 0));
      mma(o[2 * dd + 1], p, b_part(vb, 2));
    }
  }
  for (int t = 0; t < dim / 8; ++t)
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        const Coord c = mma_c(lane, e);
        float expected = 0.0f;
        for (int j = 0; j < keys; ++j) expected += S[c.row][j] * at(v, j, t * 8 + c.col);
        if (o[t][lane][e] != expected)
          fail(what + ": O(" + std::to_string(c.row) + ", " + std::to_string(t * 8 + c.col) + ") is wrong");
      }
}

// Every (row, chunk) of a tile lands in its own chunk: the swizzle loses nothing.
void check_swizzle(int dim) {
  std::set<int> seen;
  for (int r = 0; r < 128; ++r)
    for (int c = 0; c < dim / 8; ++c) seen.insert(swizzled_offset(r, c * 8, dim));
  if (int(seen.size()) != 128 * dim / 8) fail("swizzle of D " + std::to_string(dim) + " maps two chunks together");
}

void print_table(const char* name, const std::vector<std::string>& lines, bool last) {
  std::printf("    \"%s\": [\n", name);
  for (size_t i = 0; i < lines.size(); ++i) std::printf("      \"%s\"%s\n", lines[i].c_str(), i + 1 < lines.size() ? "," : "");
  std::printf("    ]%s\n", last ? "" : ",");
}

}  // namespace

int main() {
  const auto a = owners(16, 16, 8, "a", [](int l, int e) { return mma_a(l, e); });
  const auto b = owners(16, 8, 4, "b", [](int l, int e) { return mma_b(l, e); });
  const auto c = owners(16, 8, 4, "c", [](int l, int e) { return mma_c(l, e); });
  const auto ld = owners(8, 8, 2, "r", [](int l, int e) { return ldmatrix_element(l, e, false); });
  const auto ldt = owners(8, 8, 2, "r", [](int l, int e) { return ldmatrix_element(l, e, true); });
  for (int dim : {64, 128}) {
    check_products(dim);
    check_swizzle(dim);
  }
  std::printf("{\n  \"tables\": {\n");
  print_table("mmaA", a, false);
  print_table("mmaB", b, false);
  print_table("mmaC", c, false);
  print_table("ldmatrix", ld, false);
  print_table("ldmatrixTrans", ldt, true);
  std::printf("  },\n  \"failures\": [");
  for (size_t i = 0; i < failures.size(); ++i) std::printf("%s\"%s\"", i ? ", " : "", failures[i].c_str());
  std::printf("]\n}\n");
  return 0;
}

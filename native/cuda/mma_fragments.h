// Where each thread's registers sit in the matrices of `mma.sync.aligned.m16n8k16` (bf16 / f16
// inputs, f32 accumulators) and of `ldmatrix.sync.aligned.m8n8.x4.b16`, written once for the
// flash-attention kernels and for the host-side test (test/native/mmaFragments.test.ts) that checks
// them against the PTX ISA's figures. Plain C++: nvcc and g++ both compile it.
//
// Names as in the PTX ISA: lane = %laneid, groupID = lane / 4, threadID_in_group = lane % 4.
// Element e of a fragment is the e-th 16-bit (A, B) or 32-bit (C/D) value a thread holds; two
// 16-bit elements share a .b32 register, the lower index in the lower half.
#pragma once

#if defined(__CUDACC__)
#define WSI_FRAGMENT_FN __host__ __device__ __forceinline__ constexpr
#else
#define WSI_FRAGMENT_FN inline constexpr
#endif

namespace wsi::cuda::frag {

struct Coord {
  int row, col;
};

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type", figure "MMA .m16n8k16
// fragment layout for matrix A with .f16/.bf16 type": A is 16×16 (M×K), 8 elements a0..a7 in 4
// registers. row = groupID for a0, a1, a4, a5 and groupID + 8 for a2, a3, a6, a7;
// col = threadID_in_group·2 + (e & 1), plus 8 for a4..a7.
WSI_FRAGMENT_FN Coord mma_a(int lane, int e) {
  return {lane / 4 + 8 * ((e / 2) % 2), (lane % 4) * 2 + (e % 2) + 8 * (e / 4)};
}

// Same section, figure "MMA .m16n8k16 fragment layout for matrix B with .f16/.bf16 type": B is
// 16×8 (K×N), 4 elements b0..b3 in 2 registers. row (k) = threadID_in_group·2 + (e & 1), plus 8
// for b2, b3; col (n) = groupID.
WSI_FRAGMENT_FN Coord mma_b(int lane, int e) { return {(lane % 4) * 2 + (e % 2) + 8 * (e / 2), lane / 4}; }

// Same section, figure "MMA .m16n8k16 fragment layout for accumulator matrix C/D with .f32 type":
// C/D is 16×8, 4 elements c0..c3. row = groupID for c0, c1 and groupID + 8 for c2, c3;
// col = threadID_in_group·2 + (e & 1).
WSI_FRAGMENT_FN Coord mma_c(int lane, int e) { return {lane / 4 + 8 * (e / 2), (lane % 4) * 2 + (e % 2)}; }

// PTX ISA, "Warp-level matrix load instruction: ldmatrix", figure "ldmatrix fragment layout for
// one 8x8 Matrix with 16-bit elements": of each 8×8 matrix a thread receives one register, the
// elements (row lane / 4, cols 2·(lane % 4) + e) for e = 0, 1. With .trans the matrix is read
// transposed: the thread receives (rows 2·(lane % 4) + e, col lane / 4).
WSI_FRAGMENT_FN Coord ldmatrix_element(int lane, int e, bool trans) {
  return trans ? Coord{(lane % 4) * 2 + e, lane / 4} : Coord{lane / 4, (lane % 4) * 2 + e};
}

// Same section: for .x4, threads 8m .. 8m + 7 give the addresses of rows 0..7 of matrix m, whose
// contents land in register m of every thread. Matrix and row a lane addresses:
WSI_FRAGMENT_FN int ldmatrix_x4_matrix(int lane) { return lane / 8; }
WSI_FRAGMENT_FN int ldmatrix_x4_row(int lane) { return lane % 8; }

// The three ways the attention kernels feed mma from a row-major tile in shared memory; each
// gives the tile row and the first column of the 8-element row segment `lane` addresses.
//
// A operand (16×16 at the tile's origin): matrices 0..3 are rows 0-7 / 8-15 × cols 0-7, then
// rows 0-7 / 8-15 × cols 8-15, so register m is A's register m (a0a1, a2a3, a4a5, a6a7).
WSI_FRAGMENT_FN Coord ldmatrix_a_source(int lane) {
  const int m = ldmatrix_x4_matrix(lane);
  return {ldmatrix_x4_row(lane) + 8 * (m % 2), 8 * (m / 2)};
}

// B operands of two n8 tiles side by side, from a tile stored N-major (row n, column k: keys
// stored as rows, read as Kᵀ). Matrices: n 0-7 × k 0-7, n 0-7 × k 8-15, n 8-15 × k 0-7,
// n 8-15 × k 8-15, so registers 0, 1 are B of the first n8 tile and 2, 3 of the second.
WSI_FRAGMENT_FN Coord ldmatrix_b_source(int lane) {
  const int m = ldmatrix_x4_matrix(lane);
  return {ldmatrix_x4_row(lane) + 8 * (m / 2), 8 * (m % 2)};
}

// B operands of two n8 tiles side by side, from a tile stored K-major (row k, column n: values
// stored as rows), read with .trans. Matrices: k 0-7 × n 0-7, k 8-15 × n 0-7, k 0-7 × n 8-15,
// k 8-15 × n 8-15, so registers 0, 1 are B of the first n8 tile and 2, 3 of the second.
WSI_FRAGMENT_FN Coord ldmatrix_b_trans_source(int lane) {
  const int m = ldmatrix_x4_matrix(lane);
  return {ldmatrix_x4_row(lane) + 8 * (m % 2), 8 * (m / 2)};
}

// An f32 product of two n8 tiles (C of columns 0-7 in c[0..3], of 8-15 in c[4..7]) becomes the
// A operand of the next product (16×16) by packing pairs: A register r holds c[2r], c[2r + 1].
// That works because mma_c(lane, e) of tile j, shifted by 8j columns, is mma_a(lane, 4j + e).
WSI_FRAGMENT_FN int a_element_from_c(int tile, int e) { return 4 * tile + e; }

// Shared-memory tiles of 16-bit elements with rows of `chunks` 16-byte chunks (8 elements)
// store chunk c of row r at chunk c ^ (r % 8). The 8 rows one ldmatrix phase (8 lanes) reads
// at one logical chunk then fall in 8 different 16-byte bank groups: no bank conflicts, for any
// row width that is a multiple of 8 chunks (64 or 128 elements).
WSI_FRAGMENT_FN int swizzled_chunk(int row, int chunk) { return chunk ^ (row % 8); }

// Element offset of (row, col) in such a tile (col a multiple of 8 for a chunk start, or any
// col when reading single elements).
WSI_FRAGMENT_FN int swizzled_offset(int row, int col, int row_elems) {
  return row * row_elems + swizzled_chunk(row, col / 8) * 8 + col % 8;
}

}  // namespace wsi::cuda::frag

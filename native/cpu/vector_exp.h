// exp over a row of floats in vector registers, for the softmaxes of the CPU backend (the fused
// cross-entropy's 151 936-wide rows above all): Cephes' expf — n = round(x / ln 2), r = x − n·ln 2
// in two parts, a degree-6 polynomial for eʳ, 2ⁿ from the exponent bits — within 2 ulp of exp for
// −87.33 ≤ x ≤ 88, 0 below (where exp is subnormal), exp(88) above; NaN stays NaN. One algorithm on every path,
// picked like the GEMM's micro-kernel (AVX-512, AVX2 + FMA or portable C++; WSI_VQA_CPU_GEMM).
#pragma once

#include <cstdint>

namespace wsi::cpu {

// The largest of x[0 .. n), n ≥ 1. A NaN in x may or may not come out; the exp pass that
// follows turns it into a NaN sum either way.
float row_max(const float* x, int64_t n);

// Replaces each x[j] (j < n) by exp(x[j] − shift) and returns their sum, added in a fixed
// order: the same bits whatever the threads, and on AVX-512 and AVX2 alike.
float exp_shifted_sum(float* x, int64_t n, float shift);

}  // namespace wsi::cpu

// What the CPU backend's GEMM runs on this machine, for info().
#pragma once

namespace wsi {

// The micro-kernel: "avx512", "avx2" or "portable" — the best this CPU has, or the one
// WSI_VQA_CPU_GEMM names (an UnsupportedError when the CPU lacks it or the name is unknown).
const char* cpu_gemm_kernel();

}  // namespace wsi

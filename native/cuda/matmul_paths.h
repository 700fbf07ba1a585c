// The ways the CUDA matmul op can run, chosen per call by native/cuda/matmul.cu:
//   cuBLASLt            when libcublasLt is found at run time and the dtypes suit it;
//   tensor-core kernel  bf16 or f16 a and b (mma through nvcuda::wmma, f32 accumulation);
//   tiled kernel        anything else (f32, mixed dtypes), f32 on CUDA cores.
// WSI_VQA_MATMUL=cublaslt|kernel forces cuBLASLt or the hand-written kernels (for benchmarks).
#pragma once

#include <cuda_runtime.h>

#include "wsi/ops/basic.h"

namespace wsi::cuda {

// The GEMM of a MatmulArgs in row-major terms: out (m, n) = alpha·op(a)·op(b) + beta·out + bias.
struct MatmulShape {
  int64_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
};

inline MatmulShape matmul_shape(const MatmulArgs& args) {
  return {args.m(), args.n(), args.k(), args.trans_a, args.trans_b, args.alpha, args.beta};
}

// cuBLASLt (native/cuda/matmul_cublaslt.cu).
bool cublaslt_suits(const MatmulArgs& args);  // dtypes and sizes it can take
bool cublaslt_found();                        // libcublasLt was found (looked up once)
// Runs the product; false when cuBLASLt offers no algorithm for it (the caller falls back).
bool cublaslt_matmul(const MatmulArgs& args, int device, cudaStream_t stream);

// Hand-written kernels.
bool tensor_core_suits(const MatmulArgs& args);
void matmul_tensor_core(const MatmulArgs& args, cudaStream_t stream);  // native/cuda/matmul_tensor_core.cu
void matmul_tiled(const MatmulArgs& args, cudaStream_t stream);        // native/cuda/matmul.cu

}  // namespace wsi::cuda

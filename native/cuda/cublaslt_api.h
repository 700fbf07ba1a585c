// The few cuBLASLt types, enums and entry points the matmul op uses, declared here because
// cublasLt.h need not be installed: the library is opened at run time (wsi/dynlib.h), so building
// needs only nvcc and cudart. Values are those of cublasLt.h / library_types.h (CUDA 11.4+,
// unchanged through 13.x); enums are passed as their 32-bit integer values.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace wsi::cuda::lt {

using Status = int;  // cublasStatus_t
constexpr Status kSuccess = 0;

using Handle = struct LtContext*;            // cublasLtHandle_t
using MatmulDesc = struct LtMatmulDesc*;     // cublasLtMatmulDesc_t
using MatrixLayout = struct LtMatrixLayout*;  // cublasLtMatrixLayout_t
using Preference = struct LtPreference*;     // cublasLtMatmulPreference_t

struct MatmulAlgo {  // cublasLtMatmulAlgo_t
  uint64_t data[8];
};
struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
  MatmulAlgo algo;
  size_t workspace_size;
  Status state;
  float waves_count;
  int reserved[4];
};

// cudaDataType_t
constexpr int32_t kR32F = 0, kR16F = 2, kR16BF = 14;
// cublasComputeType_t
constexpr int32_t kCompute32F = 68, kCompute32FFastTF32 = 77;
// cublasOperation_t
constexpr int32_t kOpN = 0, kOpT = 1;
// cublasLtMatmulDescAttributes_t
constexpr int32_t kDescComputeType = 0, kDescScaleType = 1, kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7,
                  kDescBiasPointer = 8, kDescBiasDataType = 26;
// cublasLtEpilogue_t
constexpr uint32_t kEpilogueDefault = 1, kEpilogueBias = 4;
// cublasLtMatmulPreferenceAttributes_t
constexpr int32_t kPrefMaxWorkspaceBytes = 1, kPrefMinAlignmentA = 5, kPrefMinAlignmentB = 6, kPrefMinAlignmentC = 7,
                  kPrefMinAlignmentD = 8;

// The entry points, resolved from the library once.
struct Api {
  Status (*create)(Handle*);
  Status (*matmul_desc_create)(MatmulDesc*, int32_t compute_type, int32_t scale_type);
  Status (*matmul_desc_destroy)(MatmulDesc);
  Status (*matmul_desc_set_attribute)(MatmulDesc, int32_t attribute, const void* value, size_t bytes);
  Status (*matrix_layout_create)(MatrixLayout*, int32_t type, uint64_t rows, uint64_t cols, int64_t ld);
  Status (*matrix_layout_destroy)(MatrixLayout);
  Status (*preference_create)(Preference*);
  Status (*preference_destroy)(Preference);
  Status (*preference_set_attribute)(Preference, int32_t attribute, const void* value, size_t bytes);
  Status (*algo_get_heuristic)(Handle, MatmulDesc, MatrixLayout a, MatrixLayout b, MatrixLayout c, MatrixLayout d,
                               Preference, int requested, HeuristicResult* results, int* returned);
  Status (*matmul)(Handle, MatmulDesc, const void* alpha, const void* a, MatrixLayout a_desc, const void* b,
                   MatrixLayout b_desc, const void* beta, const void* c, MatrixLayout c_desc, void* d,
                   MatrixLayout d_desc, const MatmulAlgo* algo, void* workspace, size_t workspace_bytes,
                   cudaStream_t stream);
};

// Opens libcublasLt and resolves every entry point; throws MissingLibrary when it cannot.
const Api& api();

}  // namespace wsi::cuda::lt

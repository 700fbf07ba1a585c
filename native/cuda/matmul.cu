// out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N) + beta * out + bias (N), on the GPU.
//
// The op picks a path (see matmul_paths.h): cuBLASLt when found, else the tensor-core kernel for
// bf16 / f16 inputs, else the plain tiled kernel below. The tiled kernel: each 16x16 block of
// threads computes a 16x16 tile of out, stepping through K in 16-wide tiles of a and b held in
// shared memory; f32 accumulation, any floating dtype in and out (it serves f32 and mixed dtypes).
#include <cstdlib>
#include <cstring>

#include "check.h"
#include "convert.cuh"
#include "matmul_paths.h"
#include "ops.h"

namespace wsi::cuda {
namespace {

constexpr int kTile = 16;

__global__ void matmul_tiled_kernel(void* out, DType out_dtype, const void* a, DType a_dtype, const void* b,
                                    DType b_dtype, const void* bias, DType bias_dtype, MatmulShape s) {
  __shared__ float a_tile[kTile][kTile + 1];  // +1: no bank conflicts on the transposed read
  __shared__ float b_tile[kTile][kTile + 1];
  const int64_t row = int64_t(blockIdx.y) * kTile + threadIdx.y;
  const int64_t col = int64_t(blockIdx.x) * kTile + threadIdx.x;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < s.k; k0 += kTile) {
    // a_tile[y][x] = op(a)[row, k0 + x]; b_tile[y][x] = op(b)[k0 + y, col]
    const int64_t ak = k0 + threadIdx.x, bk = k0 + threadIdx.y;
    float av = 0.0f, bv = 0.0f;
    if (row < s.m && ak < s.k) av = load_f32(a, a_dtype, s.trans_a ? ak * s.m + row : row * s.k + ak);
    if (col < s.n && bk < s.k) bv = load_f32(b, b_dtype, s.trans_b ? col * s.k + bk : bk * s.n + col);
    a_tile[threadIdx.y][threadIdx.x] = av;
    b_tile[threadIdx.y][threadIdx.x] = bv;
    __syncthreads();
    for (int kk = 0; kk < kTile; ++kk) acc += a_tile[threadIdx.y][kk] * b_tile[kk][threadIdx.x];
    __syncthreads();
  }
  if (row >= s.m || col >= s.n) return;
  const int64_t i = row * s.n + col;
  float value = s.alpha * acc;
  if (s.beta != 0.0f) value += s.beta * load_f32(out, out_dtype, i);  // out is not read when beta == 0
  if (bias) value += load_f32(bias, bias_dtype, col);
  store_f32(out, out_dtype, i, value);
}

enum class MatmulPath { Auto, CublasLt, Kernel };

// WSI_VQA_MATMUL, read once: "cublaslt", "kernel", or unset / "auto".
MatmulPath requested_path() {
  static const MatmulPath path = [] {
    const char* value = std::getenv("WSI_VQA_MATMUL");
    if (!value || !*value || std::strcmp(value, "auto") == 0) return MatmulPath::Auto;
    if (std::strcmp(value, "cublaslt") == 0) return MatmulPath::CublasLt;
    if (std::strcmp(value, "kernel") == 0) return MatmulPath::Kernel;
    fail(ErrorCode::Unsupported, "WSI_VQA_MATMUL must be 'cublaslt', 'kernel' or 'auto', got '", value, "'");
  }();
  return path;
}

}  // namespace

void matmul_tiled(const MatmulArgs& args, cudaStream_t stream) {
  const MatmulShape s = matmul_shape(args);
  const dim3 block(kTile, kTile);
  const dim3 grid(unsigned((s.n + kTile - 1) / kTile), unsigned((s.m + kTile - 1) / kTile));
  WSI_CHECK(grid.y <= 65535, ErrorCode::Unsupported, "matmul on CUDA: ", s.m, " rows is more than this kernel's grid allows");
  matmul_tiled_kernel<<<grid, block, 0, stream>>>(args.out.data, args.out.dtype, args.a.data, args.a.dtype,
                                                  args.b.data, args.b.dtype,
                                                  args.bias.defined() ? args.bias.data : nullptr, args.bias.dtype, s);
  WSI_CUDA_CHECK_LAUNCH();
}

void matmul(const MatmulArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  if (args.m() == 0 || args.n() == 0) return;
  const MatmulPath path = requested_path();
  if (path == MatmulPath::CublasLt) {
    WSI_CHECK(cublaslt_suits(args), ErrorCode::Unsupported, "matmul: WSI_VQA_MATMUL=cublaslt, but cuBLASLt does not take ",
              dtype_name(args.a.dtype), " · ", dtype_name(args.b.dtype), " → ", dtype_name(args.out.dtype),
              args.bias.defined() ? concat(" + ", dtype_name(args.bias.dtype), " bias") : std::string());
    WSI_CHECK(cublaslt_matmul(args, ctx.device.index, stream), ErrorCode::Unsupported,
              "matmul: WSI_VQA_MATMUL=cublaslt, but cuBLASLt has no algorithm for [", args.m(), ", ", args.k(),
              "] · [", args.k(), ", ", args.n(), "]");
    return;
  }
  if (path == MatmulPath::Auto && cublaslt_suits(args) && cublaslt_found() &&
      cublaslt_matmul(args, ctx.device.index, stream))
    return;
  if (tensor_core_suits(args))
    matmul_tensor_core(args, stream);
  else
    matmul_tiled(args, stream);
}

}  // namespace wsi::cuda

// GELU (erf form) elementwise and its backward, and the projector's linear layer with the bias
// and GELU in the GEMM epilogue:
//   gelu:             out = gelu(x)                                  (any shape)
//   gelu_backward:    dx = dy · gelu'(x)                             (overwrite)
//   matmul_bias_gelu: pre = a (M, K) · weightᵀ (N, K) + bias (N);  out (M, N) = gelu(pre)
// The GEMM is a 16×16 shared-memory tiled kernel with f32 accumulation; the epilogue adds the
// bias, keeps pre when asked and applies GELU before the single store, so the pre-activation
// never makes a round trip through memory when it is not kept.
#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "wsi/gelu_math.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 16;

__global__ void gelu_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, out_dtype, i, gelu_erf(load_f32(x, x_dtype, i)));
}

__global__ void gelu_backward_kernel(void* dx, DType dx_dtype, const void* x, DType x_dtype, const void* dy,
                                     DType dy_dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(dx, dx_dtype, i, load_f32(dy, dy_dtype, i) * gelu_erf_grad(load_f32(x, x_dtype, i)));
}

// out, pre: (M, N); a: (M, K); weight: (N, K); bias: (N). pre may be nullptr.
__global__ void matmul_bias_gelu_kernel(void* out, DType out_dtype, void* pre, DType pre_dtype, const void* a,
                                        DType a_dtype, const void* weight, DType w_dtype, const void* bias,
                                        DType bias_dtype, int64_t m, int64_t n, int64_t k) {
  __shared__ float a_tile[kTile][kTile + 1];
  __shared__ float w_tile[kTile][kTile + 1];
  const int64_t row = int64_t(blockIdx.y) * kTile + threadIdx.y;
  const int64_t col = int64_t(blockIdx.x) * kTile + threadIdx.x;
  const int64_t w_row = int64_t(blockIdx.x) * kTile + threadIdx.y;  // the weight row this thread loads
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < k; k0 += kTile) {
    const int64_t kk = k0 + threadIdx.x;
    a_tile[threadIdx.y][threadIdx.x] = row < m && kk < k ? load_f32(a, a_dtype, row * k + kk) : 0.0f;
    // w_tile[x][y] = weight[w_row = col block + y, k0 + x]: coalesced along k, read transposed.
    w_tile[threadIdx.x][threadIdx.y] = w_row < n && kk < k ? load_f32(weight, w_dtype, w_row * k + kk) : 0.0f;
    __syncthreads();
    for (int j = 0; j < kTile; ++j) acc += a_tile[threadIdx.y][j] * w_tile[j][threadIdx.x];
    __syncthreads();
  }
  if (row >= m || col >= n) return;
  const float h = acc + load_f32(bias, bias_dtype, col);
  if (pre) store_f32(pre, pre_dtype, row * n + col, h);
  store_f32(out, out_dtype, row * n + col, gelu_erf(h));
}

}  // namespace

void gelu(const GeluArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.numel();
  if (n == 0) return;
  gelu_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data,
                                                                args.x.dtype, n);
  WSI_CUDA_CHECK_LAUNCH();
}

void gelu_backward(const GeluBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.x.numel();
  if (n == 0) return;
  gelu_backward_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.dx.data, args.dx.dtype, args.x.data,
                                                                         args.x.dtype, args.dy.data, args.dy.dtype, n);
  WSI_CUDA_CHECK_LAUNCH();
}

void matmul_bias_gelu(const MatmulBiasGeluArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t m = args.m(), n = args.weight.dim(0), k = args.weight.dim(1);
  if (m == 0 || n == 0) return;
  const dim3 block(kTile, kTile);
  const dim3 grid(unsigned((n + kTile - 1) / kTile), unsigned((m + kTile - 1) / kTile));
  WSI_CHECK(grid.y <= 65535, ErrorCode::Unsupported, "matmul_bias_gelu on CUDA: ", m,
            " rows is more than this kernel's grid allows");
  matmul_bias_gelu_kernel<<<grid, block, 0, stream>>>(
      args.out.data, args.out.dtype, args.pre.defined() ? args.pre.data : nullptr, args.pre.dtype, args.a.data,
      args.a.dtype, args.weight.data, args.weight.dtype, args.bias.data, args.bias.dtype, m, n, k);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

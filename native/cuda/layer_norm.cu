// LayerNorm over the last dimension C and its backward, in f32:
//   forward (one block per row):  xhat = (x − mean)·rstd, out = xhat·weight + bias; mean, rstd (rows)
//   backward dx (one block per row, overwrite):
//     dxhat = dy·weight; dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
//   backward dweight, dbias (one thread per column, accumulate +=):
//     dweight[c] += Σ_r dy[r, c]·xhat[r, c], dbias[c] += Σ_r dy[r, c]
#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

// out, x: (rows, C); weight, bias: (C); mean, rstd: (rows) f32.
__global__ void layer_norm_kernel(void* out, DType out_dtype, float* mean_out, float* rstd_out, const void* x,
                                  DType x_dtype, const void* weight, DType w_dtype, const void* bias, DType b_dtype,
                                  int64_t c, float eps) {
  __shared__ float scratch[32];
  const int64_t base = int64_t(blockIdx.x) * c;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) sum += load_f32(x, x_dtype, base + i);
  const float mean = block_sum(sum, scratch) / float(c);
  float var = 0.0f;
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) {
    const float d = load_f32(x, x_dtype, base + i) - mean;
    var += d * d;
  }
  const float rstd = rsqrtf(block_sum(var, scratch) / float(c) + eps);
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) {
    const float xhat = (load_f32(x, x_dtype, base + i) - mean) * rstd;
    store_f32(out, out_dtype, base + i, xhat * load_f32(weight, w_dtype, i) + load_f32(bias, b_dtype, i));
  }
  if (threadIdx.x == 0) {
    mean_out[blockIdx.x] = mean;
    rstd_out[blockIdx.x] = rstd;
  }
}

// dx, x, dy: (rows, C); weight: (C); mean, rstd: (rows).
__global__ void layer_norm_dx_kernel(void* dx, DType dx_dtype, const void* x, DType x_dtype, const void* weight,
                                     DType w_dtype, const float* mean, const float* rstd, const void* dy,
                                     DType dy_dtype, int64_t c) {
  __shared__ float scratch[32];
  const int64_t base = int64_t(blockIdx.x) * c;
  const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
  float s1 = 0.0f, s2 = 0.0f;
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) {
    const float dxhat = load_f32(dy, dy_dtype, base + i) * load_f32(weight, w_dtype, i);
    s1 += dxhat;
    s2 += dxhat * (load_f32(x, x_dtype, base + i) - mu) * rs;
  }
  const float m1 = block_sum(s1, scratch) / float(c), m2 = block_sum(s2, scratch) / float(c);
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) {
    const float xhat = (load_f32(x, x_dtype, base + i) - mu) * rs;
    const float dxhat = load_f32(dy, dy_dtype, base + i) * load_f32(weight, w_dtype, i);
    store_f32(dx, dx_dtype, base + i, rs * (dxhat - m1 - xhat * m2));
  }
}

// dweight, dbias: (C), accumulated; x, dy: (rows, C).
__global__ void layer_norm_dparams_kernel(void* dweight, DType dw_dtype, void* dbias, DType db_dtype, const void* x,
                                          DType x_dtype, const float* mean, const float* rstd, const void* dy,
                                          DType dy_dtype, int64_t rows, int64_t c) {
  const int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (col >= c) return;
  float dw = 0.0f, db = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float g = load_f32(dy, dy_dtype, r * c + col);
    dw += g * (load_f32(x, x_dtype, r * c + col) - mean[r]) * rstd[r];
    db += g;
  }
  store_f32(dweight, dw_dtype, col, load_f32(dweight, dw_dtype, col) + dw);
  store_f32(dbias, db_dtype, col, load_f32(dbias, db_dtype, col) + db);
}

}  // namespace

void layer_norm(const LayerNormArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.x.rows(), c = args.x.dim(-1);
  if (rows == 0 || c == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "layer_norm on CUDA: too many rows (", rows, ")");
  layer_norm_kernel<<<unsigned(rows), kThreads, 0, stream>>>(
      args.out.data, args.out.dtype, args.mean.as<float>(), args.rstd.as<float>(), args.x.data, args.x.dtype,
      args.weight.data, args.weight.dtype, args.bias.data, args.bias.dtype, c, args.eps);
  WSI_CUDA_CHECK_LAUNCH();
}

void layer_norm_backward(const LayerNormBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.x.rows(), c = args.x.dim(-1);
  if (c == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "layer_norm_backward on CUDA: too many rows (", rows, ")");
  if (rows > 0) {
    layer_norm_dx_kernel<<<unsigned(rows), kThreads, 0, stream>>>(
        args.dx.data, args.dx.dtype, args.x.data, args.x.dtype, args.weight.data, args.weight.dtype,
        args.mean.as<float>(), args.rstd.as<float>(), args.dy.data, args.dy.dtype, c);
    WSI_CUDA_CHECK_LAUNCH();
  }
  layer_norm_dparams_kernel<<<unsigned((c + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      args.dweight.data, args.dweight.dtype, args.dbias.data, args.dbias.dtype, args.x.data, args.x.dtype,
      args.mean.as<float>(), args.rstd.as<float>(), args.dy.data, args.dy.dtype, rows, c);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// RMSNorm, rotary embedding and SwiGLU on the GPU, in f32 (wsi/ops/qwen3.h):
//   rms_norm            one block per row: Σx² by block reduction, then out = x·rstd·weight
//   rms_norm_backward   dx: one block per row (Σ g·xhat by block reduction);
//                       dweight: one thread per column walking the rows (+=, deterministic)
//   rope                one thread per rotated pair (b, t, h, i), cos/sin computed in place
//   swiglu(_backward)   one thread per element, grid-stride
#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "wsi/qwen3_math.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rms_norm_kernel(void* out, DType out_dtype, float* rstd_out, const void* x, DType x_dtype,
                                const void* weight, DType w_dtype, int64_t d, float eps) {
  __shared__ float scratch[32];
  const int64_t base = int64_t(blockIdx.x) * d;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float v = load_f32(x, x_dtype, base + i);
    squares += v * v;
  }
  const float rstd = rsqrtf(block_sum(squares, scratch) / float(d) + eps);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    store_f32(out, out_dtype, base + i, load_f32(x, x_dtype, base + i) * rstd * load_f32(weight, w_dtype, i));
  if (threadIdx.x == 0) rstd_out[blockIdx.x] = rstd;
}

__global__ void rms_norm_dx_kernel(void* dx, DType dx_dtype, const void* x, DType x_dtype, const void* weight,
                                   DType w_dtype, const float* rstd, const void* dy, DType dy_dtype, int64_t d) {
  __shared__ float scratch[32];
  const int64_t base = int64_t(blockIdx.x) * d;
  const float rs = rstd[blockIdx.x];
  float dot = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    dot += load_f32(dy, dy_dtype, base + i) * load_f32(weight, w_dtype, i) * load_f32(x, x_dtype, base + i) * rs;
  const float mean_dot = block_sum(dot, scratch) / float(d);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float xhat = load_f32(x, x_dtype, base + i) * rs;
    const float g = load_f32(dy, dy_dtype, base + i) * load_f32(weight, w_dtype, i);
    store_f32(dx, dx_dtype, base + i, rs * (g - xhat * mean_dot));
  }
}

__global__ void rms_norm_dweight_kernel(float* dweight, const void* x, DType x_dtype, const float* rstd,
                                        const void* dy, DType dy_dtype, int64_t rows, int64_t d) {
  const int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (col >= d) return;
  float sum = 0.0f;
  for (int64_t r = 0; r < rows; ++r) sum += load_f32(dy, dy_dtype, r * d + col) * load_f32(x, x_dtype, r * d + col) * rstd[r];
  dweight[col] += sum;
}

// x, out: (B·T, H, D); positions: (B·T).
__global__ void rope_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, const int32_t* positions,
                            int64_t heads, int64_t d, float theta, float sign, int64_t pairs) {
  const int64_t half = d / 2;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = p % half, row = p / half;  // row = (bt, h)
    const int64_t bt = row / heads;
    float s, c;
    sincosf(rope_angle(positions[bt], i, d, theta), &s, &c);
    s *= sign;
    const int64_t base = row * d;
    const float a = load_f32(x, x_dtype, base + i), b = load_f32(x, x_dtype, base + i + half);
    store_f32(out, out_dtype, base + i, a * c - b * s);
    store_f32(out, out_dtype, base + i + half, b * c + a * s);
  }
}

__global__ void swiglu_kernel(void* out, DType out_dtype, const void* gate, DType gate_dtype, const void* up,
                              DType up_dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, out_dtype, i, silu(load_f32(gate, gate_dtype, i)) * load_f32(up, up_dtype, i));
}

__global__ void swiglu_backward_kernel(void* dgate, DType dgate_dtype, void* dup, DType dup_dtype, const void* dy,
                                       DType dy_dtype, const void* gate, DType gate_dtype, const void* up,
                                       DType up_dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = load_f32(gate, gate_dtype, i), u = load_f32(up, up_dtype, i), grad = load_f32(dy, dy_dtype, i);
    store_f32(dgate, dgate_dtype, i, grad * u * silu_grad(g));
    store_f32(dup, dup_dtype, i, grad * silu(g));
  }
}

}  // namespace

void rms_norm(const RmsNormArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.x.rows(), d = args.x.dim(-1);
  if (rows == 0 || d == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "rms_norm on CUDA: too many rows (", rows, ")");
  rms_norm_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.rstd.as<float>(), args.x.data,
                                                          args.x.dtype, args.weight.data, args.weight.dtype, d, args.eps);
  WSI_CUDA_CHECK_LAUNCH();
}

void rms_norm_backward(const RmsNormBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t rows = args.x.rows(), d = args.x.dim(-1);
  if (rows == 0 || d == 0) return;
  WSI_CHECK(rows <= INT32_MAX, ErrorCode::Unsupported, "rms_norm_backward on CUDA: too many rows (", rows, ")");
  // The weight gradient reads dy before dx may overwrite it (dx may be dy).
  if (args.dweight.defined()) {
    rms_norm_dweight_kernel<<<blocks_for(d, kThreads), kThreads, 0, stream>>>(
        args.dweight.as<float>(), args.x.data, args.x.dtype, args.rstd.as<float>(), args.dy.data, args.dy.dtype, rows, d);
    WSI_CUDA_CHECK_LAUNCH();
  }
  rms_norm_dx_kernel<<<unsigned(rows), kThreads, 0, stream>>>(args.dx.data, args.dx.dtype, args.x.data, args.x.dtype,
                                                             args.weight.data, args.weight.dtype, args.rstd.as<float>(),
                                                             args.dy.data, args.dy.dtype, d);
  WSI_CUDA_CHECK_LAUNCH();
}

void rope(const RopeArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t heads = args.x.dim(2), d = args.x.dim(3);
  const int64_t pairs = args.x.numel() / 2;
  if (pairs == 0) return;
  rope_kernel<<<blocks_for(pairs, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data, args.x.dtype,
                                                                    args.positions.as<int32_t>(), heads, d, args.theta,
                                                                    args.inverse ? -1.0f : 1.0f, pairs);
  WSI_CUDA_CHECK_LAUNCH();
}

void swiglu(const SwigluArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.gate.numel();
  if (n == 0) return;
  swiglu_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.gate.data,
                                                                  args.gate.dtype, args.up.data, args.up.dtype, n);
  WSI_CUDA_CHECK_LAUNCH();
}

void swiglu_backward(const SwigluBackwardArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.gate.numel();
  if (n == 0) return;
  swiglu_backward_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(
      args.dgate.data, args.dgate.dtype, args.dup.data, args.dup.dtype, args.dy.data, args.dy.dtype, args.gate.data,
      args.gate.dtype, args.up.data, args.up.dtype, n);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

// RMSNorm, rotary embedding and SwiGLU on the GPU, in f32 (wsi/ops/qwen3.h):
//   rms_norm            one block per row: Σx² by block reduction, then out = x·rstd·weight;
//                       all-bf16 aligned rows with D % 8 == 0 load 8 elements at a time
//   rms_norm_backward   dx: one block per row (Σ g·xhat by block reduction);
//                       dweight (+=): a 2-D grid of 32-column tiles × row chunks, each block's 8
//                       row lanes summed in shared memory into one partial per (chunk, column),
//                       then one thread per column adds its chunks' partials in order. The split
//                       depends only on the shape, so the sum has the same bits on every run and
//                       GPU; d = 128 (q/k norms, ~10⁵ rows) gets as many blocks as d = 2560.
//   rope                one thread per (b, t, i): cos/sin computed once, applied to pair i of every head
//   swiglu(_backward)   one thread per element, grid-stride; swiglu on aligned all-bf16 tensors 8 at a time
#include <cuda_bf16.h>

#include <algorithm>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "stream_buffer.h"
#include "wsi/qwen3_math.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 256;

// Rows of the per-head q/k norm are 64 / 128 wide: small blocks keep more rows in flight.
inline int row_threads(int64_t width) { return width <= 32 ? 32 : width <= 128 ? 64 : width <= 512 ? 128 : kThreads; }

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

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

// The all-bf16 case, D a multiple of 8 and 16-byte aligned rows: 8 elements per load.
__global__ void rms_norm_bf16x8_kernel(uint4* out, float* rstd_out, const uint4* x, const uint4* weight, int64_t d,
                                       float eps) {
  __shared__ float scratch[32];
  const int64_t vectors = d / 8, base = int64_t(blockIdx.x) * vectors;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < vectors; i += blockDim.x) {
    const uint4 x4 = x[base + i];
    const auto* xv = reinterpret_cast<const __nv_bfloat162*>(&x4);
    for (int k = 0; k < 4; ++k) {
      const float2 f = __bfloat1622float2(xv[k]);
      squares += f.x * f.x + f.y * f.y;
    }
  }
  const float rstd = rsqrtf(block_sum(squares, scratch) / float(d) + eps);
  for (int64_t i = threadIdx.x; i < vectors; i += blockDim.x) {
    const uint4 x4 = x[base + i], w4 = weight[i];
    uint4 o4;
    const auto* xv = reinterpret_cast<const __nv_bfloat162*>(&x4);
    const auto* wv = reinterpret_cast<const __nv_bfloat162*>(&w4);
    auto* ov = reinterpret_cast<__nv_bfloat162*>(&o4);
    for (int k = 0; k < 4; ++k) {
      const float2 xf = __bfloat1622float2(xv[k]), wf = __bfloat1622float2(wv[k]);
      ov[k] = __floats2bfloat162_rn(xf.x * rstd * wf.x, xf.y * rstd * wf.y);
    }
    out[base + i] = o4;
  }
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

constexpr int kDweightColumns = 32;  // a warp reads 32 consecutive columns of one row
constexpr int kDweightLanes = 8;     // rows in flight per block
constexpr int64_t kDweightBlocks = 1024, kDweightMinRows = 64;

// partial (chunks, d) f32: Σ over rows [chunk·rows_per_chunk, +rows_per_chunk) of dy·x·rstd.
__global__ void __launch_bounds__(kDweightColumns * kDweightLanes)
    rms_norm_dweight_partial_kernel(float* partial, const void* x, DType x_dtype, const float* rstd, const void* dy,
                                    DType dy_dtype, int64_t rows, int64_t d, int64_t rows_per_chunk) {
  __shared__ float lanes[kDweightLanes][kDweightColumns + 1];
  const int64_t col = int64_t(blockIdx.x) * kDweightColumns + threadIdx.x;
  const int64_t begin = int64_t(blockIdx.y) * rows_per_chunk, end = min(rows, begin + rows_per_chunk);
  float sum = 0.0f;
  if (col < d)
    for (int64_t r = begin + threadIdx.y; r < end; r += kDweightLanes)
      sum += load_f32(dy, dy_dtype, r * d + col) * load_f32(x, x_dtype, r * d + col) * rstd[r];
  lanes[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y != 0 || col >= d) return;
  for (int lane = 1; lane < kDweightLanes; ++lane) sum += lanes[lane][threadIdx.x];
  partial[int64_t(blockIdx.y) * d + col] = sum;
}

// dweight (d) f32 += Σ_chunk partial[chunk, :], the chunks in order.
__global__ void rms_norm_dweight_finish_kernel(float* dweight, const float* partial, int64_t chunks, int64_t d) {
  const int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (col >= d) return;
  float sum = 0.0f;
  for (int64_t c = 0; c < chunks; ++c) sum += partial[c * d + col];
  dweight[col] += sum;
}

// x, out: (B·T, H, D); positions: (B·T). items = B·T·D/2, one per (bt, i); consecutive threads
// take consecutive i, so each head's loads stay coalesced. out may be x (each pair is read, then
// written, by one thread).
__global__ void rope_kernel(void* out, DType out_dtype, const void* x, DType x_dtype, const int32_t* positions,
                            int64_t heads, int64_t d, float theta, float sign, int64_t items) {
  const int64_t half = d / 2;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < items; p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = p % half, bt = p / half;
    float s, c;
    sincosf(rope_angle(positions[bt], i, d, theta), &s, &c);
    s *= sign;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = (bt * heads + h) * d;
      const float a = load_f32(x, x_dtype, base + i), b = load_f32(x, x_dtype, base + i + half);
      store_f32(out, out_dtype, base + i, a * c - b * s);
      store_f32(out, out_dtype, base + i + half, b * c + a * s);
    }
  }
}

__global__ void swiglu_kernel(void* out, DType out_dtype, const void* gate, DType gate_dtype, const void* up,
                              DType up_dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, out_dtype, i, silu(load_f32(gate, gate_dtype, i)) * load_f32(up, up_dtype, i));
}

// The all-bf16 case, 8 elements per 16-byte load: the MLP's activations in training.
__global__ void swiglu_bf16x8_kernel(uint4* out, const uint4* gate, const uint4* up, int64_t vectors) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < vectors; i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 g4 = gate[i], u4 = up[i];
    uint4 o4;
    const auto* g = reinterpret_cast<const __nv_bfloat162*>(&g4);
    const auto* u = reinterpret_cast<const __nv_bfloat162*>(&u4);
    auto* o = reinterpret_cast<__nv_bfloat162*>(&o4);
    for (int k = 0; k < 4; ++k) {
      const float2 gf = __bfloat1622float2(g[k]), uf = __bfloat1622float2(u[k]);
      o[k] = __floats2bfloat162_rn(silu(gf.x) * uf.x, silu(gf.y) * uf.y);
    }
    out[i] = o4;
  }
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
  const bool all_bf16 = args.out.dtype == DType::BF16 && args.x.dtype == DType::BF16 && args.weight.dtype == DType::BF16;
  if (all_bf16 && d % 8 == 0 && aligned16(args.out.data) && aligned16(args.x.data) && aligned16(args.weight.data)) {
    rms_norm_bf16x8_kernel<<<unsigned(rows), row_threads(d / 8), 0, stream>>>(
        static_cast<uint4*>(args.out.data), args.rstd.as<float>(), static_cast<const uint4*>(args.x.data),
        static_cast<const uint4*>(args.weight.data), d, args.eps);
    WSI_CUDA_CHECK_LAUNCH();
    return;
  }
  rms_norm_kernel<<<unsigned(rows), row_threads(d), 0, stream>>>(args.out.data, args.out.dtype, args.rstd.as<float>(), args.x.data,
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
    // Chunks of rows so that the grid has about kDweightBlocks blocks, whatever d.
    const int64_t tiles = (d + kDweightColumns - 1) / kDweightColumns;
    const int64_t wanted = std::max<int64_t>(1, kDweightBlocks / tiles);
    const int64_t rows_per_chunk = std::max(kDweightMinRows, (rows + wanted - 1) / wanted);
    const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
    WSI_CHECK(tiles <= INT32_MAX && chunks <= 65535, ErrorCode::Unsupported, "rms_norm_backward on CUDA: ", d,
              " columns is more than this kernel's grid allows");
    StreamBuffer partial(size_t(chunks * d) * sizeof(float), stream);
    rms_norm_dweight_partial_kernel<<<dim3(unsigned(tiles), unsigned(chunks)), dim3(kDweightColumns, kDweightLanes), 0,
                                      stream>>>(partial.as<float>(), args.x.data, args.x.dtype, args.rstd.as<float>(),
                                                args.dy.data, args.dy.dtype, rows, d, rows_per_chunk);
    WSI_CUDA_CHECK_LAUNCH();
    rms_norm_dweight_finish_kernel<<<blocks_for(d, kThreads), kThreads, 0, stream>>>(args.dweight.as<float>(),
                                                                                    partial.as<float>(), chunks, d);
    WSI_CUDA_CHECK_LAUNCH();
  }
  rms_norm_dx_kernel<<<unsigned(rows), row_threads(d), 0, stream>>>(args.dx.data, args.dx.dtype, args.x.data, args.x.dtype,
                                                             args.weight.data, args.weight.dtype, args.rstd.as<float>(),
                                                             args.dy.data, args.dy.dtype, d);
  WSI_CUDA_CHECK_LAUNCH();
}

void rope(const RopeArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t heads = args.x.dim(2), d = args.x.dim(3);
  const int64_t items = args.x.dim(0) * args.x.dim(1) * (d / 2);
  if (items == 0 || heads == 0) return;
  rope_kernel<<<blocks_for(items, kThreads), kThreads, 0, stream>>>(args.out.data, args.out.dtype, args.x.data, args.x.dtype,
                                                                    args.positions.as<int32_t>(), heads, d, args.theta,
                                                                    args.inverse ? -1.0f : 1.0f, items);
  WSI_CUDA_CHECK_LAUNCH();
}

void swiglu(const SwigluArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t n = args.gate.numel();
  if (n == 0) return;
  const bool all_bf16 = args.out.dtype == DType::BF16 && args.gate.dtype == DType::BF16 && args.up.dtype == DType::BF16;
  if (all_bf16 && n % 8 == 0 && aligned16(args.out.data) && aligned16(args.gate.data) && aligned16(args.up.data)) {
    swiglu_bf16x8_kernel<<<blocks_for(n / 8, kThreads), kThreads, 0, stream>>>(
        static_cast<uint4*>(args.out.data), static_cast<const uint4*>(args.gate.data),
        static_cast<const uint4*>(args.up.data), n / 8);
    WSI_CUDA_CHECK_LAUNCH();
    return;
  }
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

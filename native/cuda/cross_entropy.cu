// Fused linear cross-entropy on the GPU, one chunk of C tokens at a time (wsi/ops/loss.h):
//   logits (C, V) f32 = hidden[chunk] (C, H) · weightᵀ (V, H)                 (matmul, into workspace)
//   per token, one block: online max / Σ exp in f32 → lse; token_loss[t] = lse − logits[label];
//     dlogits row = softmax − onehot(label), 0 for label −100 (unscaled: grad_scale is the GEMMs' alpha)
//   dhidden[chunk] (C, H) = grad_scale · dlogits (C, V) · weight (V, H)       (matmul, overwrite)
//   dweight (V, H) += grad_scale · dlogitsᵀ (V, C) · hidden[chunk] (C, H)     (matmul, beta 1)
// and after the last chunk one block sums token_loss and counts the labels, each in a fixed order,
// so the loss has the same bits on every run.
//
// When hidden and weight are bf16, dlogits are written in bf16 beside the chunk's logits, so both
// gradient GEMMs are bf16 · bf16 (cuBLASLt, or the wmma kernel without it: tensor cores either
// way); a chunk then takes at most 2/3 of the workspace's rows (its f32 logits and bf16 dlogits
// fill the workspace), so peak memory is still the workspace. Otherwise (f32, f16, mixed, or a
// one-row workspace) dlogits overwrite the logits in f32.
//
// Nothing is copied to the host and nothing waits. The labels are checked on the device: a label
// that is neither −100 nor in [0, V) gives its token a NaN loss (so the summed loss is NaN) and a
// zero gradient; lib/crossEntropy.ts checks them on the host first and names the row.
#include <cmath>
#include <memory>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"
#include "stream_buffer.h"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kFinishThreads = 1024;

__device__ __forceinline__ void store_grad(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_grad(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

// logits: (C, V) f32; dlogits: (C, V) Grad, or null for the loss alone; Grad = float writes
// over the logits (each element is read, then written, by one thread). token_loss, labels: (C).
template <class Grad>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_rows_kernel(const float* logits, Grad* dlogits, float* token_loss, const int32_t* labels, int64_t v) {
  __shared__ float scratch[32];
  const float* row = logits + int64_t(blockIdx.x) * v;
  Grad* grad = dlogits ? dlogits + int64_t(blockIdx.x) * v : nullptr;
  const int32_t label = labels[blockIdx.x];
  if (label < 0 || label >= v) {
    if (threadIdx.x == 0) token_loss[blockIdx.x] = label == kIgnoreLabel ? 0.0f : NAN;
    if (grad)
      for (int64_t j = threadIdx.x; j < v; j += blockDim.x) store_grad(grad + j, 0.0f);
    return;
  }
  float max = -FLT_MAX, sum = 0.0f;  // this thread's running maximum and Σ exp(x − max)
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x) {
    const float x = row[j];
    if (x > max) {
      sum = sum * expf(max - x) + 1.0f;
      max = x;
    } else {
      sum += expf(x - max);
    }
  }
  const float block_max_value = block_max(max, scratch);
  const float total = block_sum(sum * expf(max - block_max_value), scratch);
  const float lse = block_max_value + logf(total);
  if (threadIdx.x == 0) token_loss[blockIdx.x] = lse - row[label];
  if (!grad) return;
  __syncthreads();  // row[label] is read above before (in place) it is overwritten below
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x)
    store_grad(grad + j, expf(row[j] - lse) - (j == label ? 1.0f : 0.0f));
}

// One block: loss = Σ token_loss, count = #{labels != −100}. Thread i takes t ≡ i (mod blockDim)
// in order, then the block reduction adds the threads in a fixed tree: deterministic.
__global__ void __launch_bounds__(kFinishThreads)
    cross_entropy_finish_kernel(float* loss, float* count, const float* token_loss, const int32_t* labels, int64_t t) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  int labelled = 0;
  for (int64_t i = threadIdx.x; i < t; i += blockDim.x) {
    sum += token_loss[i];
    labelled += labels[i] != kIgnoreLabel;
  }
  sum = block_sum(sum, scratch);
  const float n = block_sum(float(labelled), scratch);  // integers below 2^24: exact
  if (threadIdx.x == 0) {
    loss[0] = sum;
    count[0] = n;
  }
}

// Rows [begin, begin + count) of a 2-D tensor, as a view.
Tensor row_block(const Tensor& t, int64_t begin, int64_t count) {
  Tensor view = t;
  view.data = static_cast<char*>(t.data) + size_t(begin * t.dim(1)) * dtype_size(t.dtype);
  view.shape[0] = count;
  return view;
}

// Where one chunk's logits and dlogits live in the workspace (workspace_rows × V f32).
struct ChunkLayout {
  int64_t rows;       // tokens per chunk
  bool bf16_grad;     // dlogits in bf16 after the logits; else f32 over them
  size_t grad_offset; // bytes from the workspace's start to the bf16 dlogits
};

ChunkLayout chunk_layout(const LinearCrossEntropyArgs& args, bool grads) {
  const int64_t v = args.weight.dim(0), chunk = args.chunk_rows(), workspace_bytes = args.workspace.dim(0) * v * 4;
  ChunkLayout layout{chunk, false, 0};
  if (!grads || args.hidden.dtype != DType::BF16 || args.weight.dtype != DType::BF16) return layout;
  // C·V·4 bytes of logits, rounded up to 16 bytes, then C·V·2 of dlogits.
  auto grad_offset = [&](int64_t rows) { return (rows * v * 4 + 15) / 16 * 16; };
  int64_t fits = workspace_bytes / (6 * v);
  while (fits > 0 && grad_offset(fits) + fits * v * 2 > workspace_bytes) --fits;
  if (fits < 1) return layout;  // a one-row workspace: f32 dlogits
  layout.rows = std::min(chunk, fits);
  layout.bf16_grad = true;
  layout.grad_offset = size_t(grad_offset(layout.rows));
  return layout;
}

}  // namespace

void linear_cross_entropy(const LinearCrossEntropyArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t t = args.hidden.dim(0), v = args.weight.dim(0);
  WSI_CHECK(t <= INT32_MAX, ErrorCode::Unsupported, "linear_cross_entropy on CUDA: too many tokens (", t, ")");
  const bool grads = args.dhidden.defined() || args.dweight.defined();
  const ChunkLayout layout = chunk_layout(args, grads);
  // Each token's loss: into the caller's tensor when asked for, else into scratch.
  std::unique_ptr<StreamBuffer> scratch;
  if (!args.token_loss.defined()) scratch = std::make_unique<StreamBuffer>(size_t(t) * sizeof(float), stream);
  float* token_loss = args.token_loss.defined() ? args.token_loss.as<float>() : scratch->as<float>();
  for (int64_t t0 = 0; t0 < t; t0 += layout.rows) {
    const int64_t rows = std::min(layout.rows, t - t0);
    const Tensor logits = row_block(args.workspace, 0, rows);
    const Tensor hidden = row_block(args.hidden, t0, rows);
    MatmulArgs forward;
    forward.out = logits;
    forward.a = hidden;
    forward.b = args.weight;
    forward.trans_b = true;
    matmul(forward, ctx);

    Tensor dlogits = logits;
    if (layout.bf16_grad) {
      dlogits.data = static_cast<char*>(args.workspace.data) + layout.grad_offset;
      dlogits.dtype = DType::BF16;
    }
    const int32_t* labels = args.labels.as<int32_t>() + t0;
    float* losses = token_loss + t0;
    if (!grads)
      cross_entropy_rows_kernel<float><<<unsigned(rows), kThreads, 0, stream>>>(logits.as<float>(), nullptr, losses, labels, v);
    else if (layout.bf16_grad)
      cross_entropy_rows_kernel<__nv_bfloat16><<<unsigned(rows), kThreads, 0, stream>>>(
          logits.as<float>(), dlogits.as<__nv_bfloat16>(), losses, labels, v);
    else
      cross_entropy_rows_kernel<float><<<unsigned(rows), kThreads, 0, stream>>>(logits.as<float>(), logits.as<float>(),
                                                                                losses, labels, v);
    WSI_CUDA_CHECK_LAUNCH();
    if (args.dhidden.defined()) {
      MatmulArgs dhidden;
      dhidden.out = row_block(args.dhidden, t0, rows);
      dhidden.a = dlogits;
      dhidden.b = args.weight;
      dhidden.alpha = args.grad_scale;
      matmul(dhidden, ctx);
    }
    if (args.dweight.defined()) {
      MatmulArgs dweight;
      dweight.out = args.dweight;
      dweight.a = dlogits;
      dweight.b = hidden;
      dweight.trans_a = true;
      dweight.alpha = args.grad_scale;
      dweight.beta = 1.0f;
      matmul(dweight, ctx);
    }
  }
  cross_entropy_finish_kernel<<<1, kFinishThreads, 0, stream>>>(args.loss.as<float>(), args.count.as<float>(),
                                                               token_loss, args.labels.as<int32_t>(), t);
  WSI_CUDA_CHECK_LAUNCH();
}

}  // namespace wsi::cuda

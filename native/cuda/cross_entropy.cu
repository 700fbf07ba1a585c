// Fused linear cross-entropy on the GPU, one chunk of C tokens at a time (wsi/ops/loss.h):
//   logits (C, V) f32 = hidden[chunk] (C, H) · weightᵀ (V, H)             (matmul, into workspace)
//   per token, one block: online max / sum of exp in f32 → lse; loss += lse − logits[label];
//     the row becomes grad_scale·(softmax − onehot(label)), or 0 for label −100
//   dhidden[chunk] (C, H) = dlogits (C, V) · weight (V, H)                  (matmul, overwrite)
//   dweight (V, H) += dlogitsᵀ (V, C) · hidden[chunk] (C, H)                 (matmul, beta 1)
// The labels are copied to the host once per call: to check them, count the labelled tokens and
// skip chunks that have none (their dhidden rows are zeroed instead).
#include <vector>

#include "check.h"
#include "convert.cuh"
#include "ops.h"
#include "reduce.cuh"

namespace wsi::cuda {
namespace {

constexpr int kThreads = 512;

// logits: (C, V) f32, rewritten as dlogits when write_grad; labels: (C) i32; loss: (1) f32 (+=).
__global__ void cross_entropy_rows_kernel(float* logits, float* loss, const int32_t* labels, int64_t v,
                                          float grad_scale, bool write_grad) {
  __shared__ float scratch[32];
  float* row = logits + int64_t(blockIdx.x) * v;
  const int32_t label = labels[blockIdx.x];
  if (label == kIgnoreLabel) {
    if (write_grad)
      for (int64_t j = threadIdx.x; j < v; j += blockDim.x) row[j] = 0.0f;
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
  if (threadIdx.x == 0) atomicAdd(loss, lse - row[label]);
  __syncthreads();  // row[label] is read above before it is overwritten below
  if (!write_grad) return;
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x)
    row[j] = grad_scale * (expf(row[j] - lse) - (j == label ? 1.0f : 0.0f));
}

__global__ void set_value_kernel(float* out, float value) { *out = value; }

__global__ void zero_kernel(void* out, DType dtype, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f32(out, dtype, i, 0.0f);
}

// Rows [begin, begin + count) of a 2-D tensor, as a view.
Tensor row_block(const Tensor& t, int64_t begin, int64_t count) {
  Tensor view = t;
  view.data = static_cast<char*>(t.data) + size_t(begin * t.dim(1)) * dtype_size(t.dtype);
  view.shape[0] = count;
  return view;
}

}  // namespace

void linear_cross_entropy(const LinearCrossEntropyArgs& args, const ExecContext& ctx) {
  cudaStream_t stream = prepare(ctx);
  const int64_t t = args.hidden.dim(0), v = args.weight.dim(0), h = args.hidden.dim(1), chunk = args.chunk_rows();
  std::vector<int32_t> labels(static_cast<size_t>(t));
  if (t > 0) {
    WSI_CUDA_CHECK(cudaMemcpyAsync(labels.data(), args.labels.data, size_t(t) * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
    WSI_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  int64_t count = 0;
  for (int64_t i = 0; i < t; ++i) {
    WSI_CHECK(labels[size_t(i)] == kIgnoreLabel || (labels[size_t(i)] >= 0 && labels[size_t(i)] < v),
              ErrorCode::ShapeMismatch, "linear_cross_entropy: labels[", i, "] = ", labels[size_t(i)],
              " is neither -100 nor in [0, ", v, ")");
    count += labels[size_t(i)] != kIgnoreLabel;
  }
  WSI_CUDA_CHECK(cudaMemsetAsync(args.loss.data, 0, sizeof(float), stream));
  set_value_kernel<<<1, 1, 0, stream>>>(args.count.as<float>(), float(count));
  WSI_CUDA_CHECK_LAUNCH();
  const bool grads = args.dhidden.defined() || args.dweight.defined();
  for (int64_t t0 = 0; t0 < t; t0 += chunk) {
    const int64_t rows = std::min(chunk, t - t0);
    bool labelled = false;
    for (int64_t i = t0; i < t0 + rows && !labelled; ++i) labelled = labels[size_t(i)] != kIgnoreLabel;
    if (!labelled) {
      if (args.dhidden.defined()) {
        zero_kernel<<<blocks_for(rows * h, 256), 256, 0, stream>>>(row_block(args.dhidden, t0, rows).data,
                                                                   args.dhidden.dtype, rows * h);
        WSI_CUDA_CHECK_LAUNCH();
      }
      continue;
    }
    const Tensor logits = row_block(args.workspace, 0, rows);
    const Tensor hidden = row_block(args.hidden, t0, rows);
    MatmulArgs forward;
    forward.out = logits;
    forward.a = hidden;
    forward.b = args.weight;
    forward.trans_b = true;
    matmul(forward, ctx);
    cross_entropy_rows_kernel<<<unsigned(rows), kThreads, 0, stream>>>(
        logits.as<float>(), args.loss.as<float>(), args.labels.as<int32_t>() + t0, v, args.grad_scale, grads);
    WSI_CUDA_CHECK_LAUNCH();
    if (args.dhidden.defined()) {
      MatmulArgs dhidden;
      dhidden.out = row_block(args.dhidden, t0, rows);
      dhidden.a = logits;
      dhidden.b = args.weight;
      matmul(dhidden, ctx);
    }
    if (args.dweight.defined()) {
      MatmulArgs dweight;
      dweight.out = args.dweight;
      dweight.a = logits;
      dweight.b = hidden;
      dweight.trans_a = true;
      dweight.beta = 1.0f;
      matmul(dweight, ctx);
    }
  }
}

}  // namespace wsi::cuda

// Fused linear cross-entropy on the CPU, one chunk of tokens at a time (wsi/ops/loss.h):
//   logits (C, V) = hidden[chunk] (C, H) · weightᵀ (V, H)     into the workspace
//   per token: loss += logsumexp − logit[label] (and token_loss[t], when asked for);
//              workspace row ← grad_scale·(softmax − onehot),
//              with one vectorised exp per logit (vector_exp.h)
//   dhidden[chunk] (C, H) = dlogits (C, V) · weight (V, H)         (overwrite)
//   dweight (V, H) += dlogitsᵀ (V, C) · hidden[chunk] (C, H)        (accumulate)
// A chunk without labelled tokens skips both GEMMs (its dhidden rows are 0).
#include <cmath>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "vector_exp.h"
#include "wsi/error.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

// Rows [begin, begin + count) of a 2-D tensor, as a view.
Tensor row_block(const Tensor& t, int64_t begin, int64_t count) {
  Tensor view = t;
  view.data = static_cast<char*>(t.data) + size_t(begin * t.dim(1)) * dtype_size(t.dtype);
  view.shape[0] = count;
  return view;
}

void zero_rows(const Tensor& t, int64_t begin, int64_t count) {
  std::vector<float> zeros(size_t(count * t.dim(1)), 0.0f);
  store_f32(zeros.data(), t, begin * t.dim(1), count * t.dim(1));
}

}  // namespace

void linear_cross_entropy(const LinearCrossEntropyArgs& args, const ExecContext& ctx) {
  const int64_t t = args.hidden.dim(0), v = args.weight.dim(0), chunk = args.chunk_rows();
  const int32_t* labels = args.labels.as<int32_t>();
  for (int64_t i = 0; i < t; ++i)
    WSI_CHECK(labels[i] == kIgnoreLabel || (labels[i] >= 0 && labels[i] < v), ErrorCode::ShapeMismatch,
              "linear_cross_entropy: labels[", i, "] = ", labels[i], " is neither -100 nor in [0, ", v, ")");
  const bool grads = args.dhidden.defined() || args.dweight.defined();
  float* token_loss = args.token_loss.defined() ? args.token_loss.as<float>() : nullptr;
  if (token_loss) std::fill(token_loss, token_loss + t, 0.0f);
  double loss = 0.0;
  int64_t count = 0;
  for (int64_t t0 = 0; t0 < t; t0 += chunk) {
    const int64_t rows = std::min(chunk, t - t0);
    int64_t labelled = 0;
    for (int64_t i = t0; i < t0 + rows; ++i) labelled += labels[i] != kIgnoreLabel;
    if (labelled == 0) {
      if (args.dhidden.defined()) zero_rows(args.dhidden, t0, rows);
      continue;
    }
    count += labelled;
    const Tensor logits = row_block(args.workspace, 0, rows);
    const Tensor hidden = row_block(args.hidden, t0, rows);
    MatmulArgs forward;
    forward.out = logits;
    forward.a = hidden;
    forward.b = args.weight;
    forward.trans_b = true;
    matmul(forward, ctx);

    std::vector<double> row_loss(size_t(rows), 0.0);
    parallel_for(rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        float* row = logits.as<float>() + r * v;
        const int32_t label = labels[t0 + r];
        if (label == kIgnoreLabel) {
          std::fill(row, row + v, 0.0f);
          continue;
        }
        // One exp per logit: the row becomes exp(logit − max), then the softmax gradient.
        const float max = row_max(row, v), label_logit = row[label];
        const float sum = exp_shifted_sum(row, v, max);
        row_loss[size_t(r)] = double(max + std::log(sum)) - label_logit;
        if (!grads) continue;
        const float scale = args.grad_scale / sum;
        for (int64_t j = 0; j < v; ++j) row[j] *= scale;
        row[label] -= args.grad_scale;
      }
    });
    for (double l : row_loss) loss += l;
    if (token_loss)
      for (int64_t r = 0; r < rows; ++r) token_loss[t0 + r] = float(row_loss[size_t(r)]);
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
  args.loss.as<float>()[0] = float(loss);
  args.count.as<float>()[0] = float(count);
}

}  // namespace wsi::cpu

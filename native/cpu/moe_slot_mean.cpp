// The MoE compressor's per-slide, per-slot weighted mean of patches, and its backward, on the
// CPU. Shapes and math: wsi/ops/moe.h. Slides are spread over the thread pool for the forward,
// patches for the backward.
#include <algorithm>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/error.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

constexpr double kDenomEps = 1e-9;  // TC-SSA's guard against a slot no patch chose

// Checks that the offsets are non-decreasing from 0 to n and that no slide is empty.
const int32_t* checked_offsets(const char* op, const Tensor& offsets, int64_t n) {
  const int32_t* o = offsets.as<int32_t>();
  const int64_t s = offsets.dim(0) - 1;
  WSI_CHECK(o[0] == 0 && o[s] == n, ErrorCode::ShapeMismatch, op, ": 'offsets' must run from 0 to the ", n,
            " patches of 'x', got ", o[0], " .. ", o[s]);
  for (int64_t i = 0; i < s; ++i)
    WSI_CHECK(o[i + 1] > o[i], ErrorCode::ShapeMismatch, op, ": slide ", i, " has no patches (offsets[", i,
              "] = ", o[i], ", offsets[", i + 1, "] = ", o[i + 1], ")");
  return o;
}

}  // namespace

void moe_slot_mean(const MoeSlotMeanArgs& args, const ExecContext&) {
  const int64_t n = args.x.dim(0), d = args.x.dim(1), k = args.weights.dim(1), s = args.offsets.dim(0) - 1;
  const int32_t* offsets = checked_offsets("moe_slot_mean", args.offsets, n);
  const float* w = args.weights.as<float>();
  float* denom = args.denom.as<float>();
  parallel_for(s * k, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> x(static_cast<size_t>(d));
    std::vector<double> acc(static_cast<size_t>(d));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t slide = job / k, slot = job % k;
      std::fill(acc.begin(), acc.end(), 0.0);
      double total = 0.0;
      for (int64_t r = offsets[slide]; r < offsets[slide + 1]; ++r) {
        const float wr = w[r * k + slot];
        if (wr == 0.0f) continue;
        load_f32(args.x, r * d, d, x.data());
        for (size_t i = 0; i < size_t(d); ++i) acc[i] += double(wr) * x[i];
        total += wr;
      }
      const double den = total + kDenomEps;
      for (size_t i = 0; i < size_t(d); ++i) x[i] = float(acc[i] / den);
      store_f32(x.data(), args.slots, (slot * s + slide) * d, d);
      denom[slot * s + slide] = float(den);
    }
  });
}

void moe_slot_mean_backward(const MoeSlotMeanBackwardArgs& args, const ExecContext&) {
  const int64_t n = args.x.dim(0), d = args.x.dim(1), k = args.weights.dim(1), s = args.offsets.dim(0) - 1;
  const int32_t* offsets = checked_offsets("moe_slot_mean_backward", args.offsets, n);
  const float* w = args.weights.as<float>();
  const float* denom = args.denom.as<float>();
  // dslots and slots as f32 once: (K, S, D) each.
  std::vector<float> dslots(static_cast<size_t>(k * s * d)), slots(static_cast<size_t>(k * s * d));
  load_f32(args.dslots, 0, k * s * d, dslots.data());
  load_f32(args.slots, 0, k * s * d, slots.data());
  parallel_for(n, std::max<int64_t>(1, 8192 / std::max<int64_t>(d * k, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> x(static_cast<size_t>(d)), dx(static_cast<size_t>(d)), dw(static_cast<size_t>(k));
    int64_t slide = std::upper_bound(offsets, offsets + s + 1, int32_t(begin)) - offsets - 1;
    for (int64_t r = begin; r < end; ++r) {
      while (r >= offsets[slide + 1]) ++slide;
      load_f32(args.x, r * d, d, x.data());
      std::fill(dx.begin(), dx.end(), 0.0f);
      for (int64_t j = 0; j < k; ++j) {
        const float inv = 1.0f / denom[j * s + slide];
        const float* g = dslots.data() + (j * s + slide) * d;
        const float* c = slots.data() + (j * s + slide) * d;
        const float scale = w[r * k + j] * inv;
        float dot = 0.0f;
        for (size_t i = 0; i < size_t(d); ++i) {
          dx[i] += scale * g[i];
          dot += g[i] * (x[i] - c[i]);
        }
        dw[size_t(j)] = dot * inv;
      }
      store_f32(dx.data(), args.dx, r * d, d);
      store_f32(dw.data(), args.dweights, r * k, k);
    }
  });
}

}  // namespace wsi::cpu

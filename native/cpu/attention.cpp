// Causal grouped-query attention on the CPU: forward, backward and one decode step. The reference
// the CUDA kernels are checked against, written row by row in f32.
//
//   q, out, dq, dout (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse, delta (B, Hq, T) f32;
//   seq_lens (B) i32, optional. Query head h reads key-value head h / (Hq / Hkv).
//   Forward:  s_ij = scale·q_i·k_j over keys j < len (j <= i when causal),
//             lse_i = log Σ_j exp(s_ij), out_i = Σ_j exp(s_ij − lse_i)·v_j.
//   Backward: p_ij = exp(s_ij − lse_i) recomputed, delta_i = dout_i·out_i,
//             ds_ij = p_ij·(dout_i·v_j − delta_i), dq_i = scale·Σ_j ds_ij·k_j,
//             dk_j = scale·Σ_i ds_ij·q_i, dv_j = Σ_i p_ij·dout_i (sums over the head group too).
// Every gradient is overwritten (=). The forward runs in parallel over (batch, query head) with
// O(T + D) memory per thread; the backward over (batch, key-value head), each holding its own
// dk and dv (T, D) in f32, so no two threads write the same row.
#include <algorithm>
#include <cmath>
#include <vector>

#include "convert.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

// A row of t as f32: straight from the tensor when it is f32, else converted into `scratch`.
const float* row_f32(const Tensor& t, int64_t offset, int64_t count, float* scratch) {
  if (t.dtype == DType::F32) return t.as<const float>() + offset;
  load_f32(t, offset, count, scratch);
  return scratch;
}

float dot(const float* x, const float* y, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

int64_t valid_length(const Tensor& lens, int64_t b, int64_t limit) {
  if (!lens.defined()) return limit;
  return std::clamp<int64_t>(lens.as<const int32_t>()[b], 0, limit);
}

// Where rows live: element offsets of (b, t, h, 0) in a (B, T, H, D) tensor and of (b, h, t) in
// a (B, H, T) one.
struct Layout {
  int64_t batch, tokens, q_heads, kv_heads, dim;
  int64_t group() const { return q_heads / kv_heads; }
  int64_t q_row(int64_t b, int64_t t, int64_t h) const { return ((b * tokens + t) * q_heads + h) * dim; }
  int64_t kv_row(int64_t b, int64_t t, int64_t h) const { return ((b * tokens + t) * kv_heads + h) * dim; }
  int64_t stat(int64_t b, int64_t h, int64_t t) const { return (b * q_heads + h) * tokens + t; }
};

Layout layout_of(const Tensor& q, const Tensor& k) { return {q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3)}; }

// Keys query row i may see: [0, end).
int64_t key_end(int64_t i, int64_t len, bool causal) { return causal ? std::min(i + 1, len) : len; }

}  // namespace

void attention(const AttentionArgs& args, const ExecContext&) {
  const Layout L = layout_of(args.q, args.k);
  const float scale = args.softmax_scale();
  float* lse = args.lse.as<float>();
  parallel_for(L.batch * L.q_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(size_t(L.tokens)), acc(size_t(L.dim)), q_buf(size_t(L.dim)), kv_buf(size_t(L.dim));
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / L.q_heads, h = bh % L.q_heads, hkv = h / L.group();
      const int64_t len = valid_length(args.seq_lens, b, L.tokens);
      for (int64_t i = 0; i < L.tokens; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        float row_lse = 0.0f;
        const int64_t keys = i < len ? key_end(i, len, args.causal) : 0;
        if (keys > 0) {
          const float* q = row_f32(args.q, L.q_row(b, i, h), L.dim, q_buf.data());
          float max = -INFINITY;
          for (int64_t j = 0; j < keys; ++j) {
            scores[size_t(j)] = scale * dot(q, row_f32(args.k, L.kv_row(b, j, hkv), L.dim, kv_buf.data()), L.dim);
            max = std::max(max, scores[size_t(j)]);
          }
          float sum = 0.0f;
          for (int64_t j = 0; j < keys; ++j) sum += (scores[size_t(j)] = std::exp(scores[size_t(j)] - max));
          for (int64_t j = 0; j < keys; ++j) {
            const float* v = row_f32(args.v, L.kv_row(b, j, hkv), L.dim, kv_buf.data());
            const float p = scores[size_t(j)] / sum;
            for (int64_t d = 0; d < L.dim; ++d) acc[size_t(d)] += p * v[d];
          }
          row_lse = max + std::log(sum);
        }
        store_f32(acc.data(), args.out, L.q_row(b, i, h), L.dim);
        lse[L.stat(b, h, i)] = row_lse;
      }
    }
  });
}

void attention_backward(const AttentionBackwardArgs& args, const ExecContext&) {
  const Layout L = layout_of(args.q, args.k);
  const float scale = args.softmax_scale();
  const float* lse = args.lse.as<const float>();
  float* delta = args.delta.as<float>();
  parallel_for(L.batch * L.kv_heads, 1, [&](int64_t begin, int64_t end) {
    const size_t D = size_t(L.dim);
    std::vector<float> dk(size_t(L.tokens) * D), dv(size_t(L.tokens) * D), probs(size_t(L.tokens));
    std::vector<float> q(D), dout(D), out(D), dq(D), kv_buf(D);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / L.kv_heads, hkv = bh % L.kv_heads;
      const int64_t len = valid_length(args.seq_lens, b, L.tokens);
      std::fill(dk.begin(), dk.end(), 0.0f);
      std::fill(dv.begin(), dv.end(), 0.0f);
      for (int64_t h = hkv * L.group(); h < (hkv + 1) * L.group(); ++h) {
        for (int64_t i = 0; i < L.tokens; ++i) {
          std::fill(dq.begin(), dq.end(), 0.0f);
          float row_delta = 0.0f;
          if (i < len) {
            const int64_t row = L.q_row(b, i, h);
            load_f32(args.q, row, L.dim, q.data());
            load_f32(args.dout, row, L.dim, dout.data());
            load_f32(args.out, row, L.dim, out.data());
            row_delta = dot(dout.data(), out.data(), L.dim);
            const float row_lse = lse[L.stat(b, h, i)];
            const int64_t keys = key_end(i, len, args.causal);
            for (int64_t j = 0; j < keys; ++j) {
              const float* k = row_f32(args.k, L.kv_row(b, j, hkv), L.dim, kv_buf.data());
              probs[size_t(j)] = std::exp(scale * dot(q.data(), k, L.dim) - row_lse);
            }
            for (int64_t j = 0; j < keys; ++j) {
              const float p = probs[size_t(j)];
              const float* v = row_f32(args.v, L.kv_row(b, j, hkv), L.dim, kv_buf.data());
              const float ds = p * (dot(dout.data(), v, L.dim) - row_delta);
              float* dv_j = dv.data() + size_t(j) * D;
              for (size_t d = 0; d < D; ++d) dv_j[d] += p * dout[d];
              const float* k = row_f32(args.k, L.kv_row(b, j, hkv), L.dim, kv_buf.data());
              float* dk_j = dk.data() + size_t(j) * D;
              for (size_t d = 0; d < D; ++d) {
                dq[d] += ds * k[d];
                dk_j[d] += scale * ds * q[d];
              }
            }
            for (float& g : dq) g *= scale;
          }
          store_f32(dq.data(), args.dq, L.q_row(b, i, h), L.dim);
          delta[L.stat(b, h, i)] = row_delta;
        }
      }
      for (int64_t j = 0; j < L.tokens; ++j) {
        store_f32(dk.data() + size_t(j) * D, args.dk, L.kv_row(b, j, hkv), L.dim);
        store_f32(dv.data() + size_t(j) * D, args.dv, L.kv_row(b, j, hkv), L.dim);
      }
    }
  });
}

void attention_decode(const AttentionDecodeArgs& args, const ExecContext&) {
  const int64_t batch = args.q.dim(0), q_heads = args.q.dim(1), dim = args.q.dim(2);
  const int64_t slots = args.k_cache.dim(1), kv_heads = args.k_cache.dim(2), group = q_heads / kv_heads;
  const float scale = args.softmax_scale();
  const auto cache_row = [&](int64_t b, int64_t s, int64_t h) { return ((b * slots + s) * kv_heads + h) * dim; };
  parallel_for(batch * q_heads, 1, [&](int64_t begin, int64_t end) {
    const size_t D = static_cast<size_t>(dim);
    std::vector<float> scores(static_cast<size_t>(slots)), acc(D), q_buf(D), kv_buf(D);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / q_heads, h = bh % q_heads, hkv = h / group;
      const int64_t len = valid_length(args.cache_lens, b, slots);
      std::fill(acc.begin(), acc.end(), 0.0f);
      if (len > 0) {
        const float* q = row_f32(args.q, bh * dim, dim, q_buf.data());
        float max = -INFINITY;
        for (int64_t j = 0; j < len; ++j) {
          scores[size_t(j)] = scale * dot(q, row_f32(args.k_cache, cache_row(b, j, hkv), dim, kv_buf.data()), dim);
          max = std::max(max, scores[size_t(j)]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < len; ++j) sum += (scores[size_t(j)] = std::exp(scores[size_t(j)] - max));
        for (int64_t j = 0; j < len; ++j) {
          const float* v = row_f32(args.v_cache, cache_row(b, j, hkv), dim, kv_buf.data());
          const float p = scores[size_t(j)] / sum;
          for (int64_t d = 0; d < dim; ++d) acc[size_t(d)] += p * v[d];
        }
      }
      store_f32(acc.data(), args.out, bh * dim, dim);
    }
  });
}

}  // namespace wsi::cpu

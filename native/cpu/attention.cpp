// Causal grouped-query attention on the CPU: forward, backward and one decode step, the products
// of queries, keys and values as GEMMs (gemm/gemm.h) over blocks of query rows.
//
//   q, out, dq, dout (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse, delta (B, Hq, T) f32;
//   seq_lens (B) i32, optional. Query head h reads key-value head h / (Hq / Hkv).
//   Forward:  s_ij = scale·q_i·k_j over keys j < len (j <= i when causal),
//             lse_i = log Σ_j exp(s_ij), out_i = Σ_j exp(s_ij − lse_i)·v_j.
//   Backward: p_ij = exp(s_ij − lse_i) recomputed, delta_i = dout_i·out_i,
//             ds_ij = p_ij·(dout_i·v_j − delta_i), dq_i = scale·Σ_j ds_ij·k_j,
//             dk_j = scale·Σ_i ds_ij·q_i, dv_j = Σ_i p_ij·dout_i (sums over the head group too).
// A block of kRows query rows i0..i1 sees keys [0, kend) with kend = min(i1, len) when causal:
// S = scale·Q·Kᵀ (rows × kend) in f32, the softmax row by row (p = 0 past a row's last key),
// then O = P·V; the backward adds dP = dO·Vᵀ, dQ = scale·dS·K, dK += scale·dSᵀ·Q, dV += Pᵀ·dO.
// Every gradient is overwritten (=). The forward runs in parallel over (batch, query head, block);
// the backward over (batch, key-value head), each holding its own dk and dv (T, D) in f32 and
// summing blocks and heads in a fixed order, so no two threads write the same row and the bits
// do not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "convert.h"
#include "gemm/gemm.h"
#include "ops.h"
#include "wsi/thread_pool.h"

namespace wsi::cpu {
namespace {

constexpr int64_t kRows = 64;  // query rows per block: S, P and dP are kRows × T f32

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

const void* at(const Tensor& t, int64_t offset) {
  return static_cast<const char*>(t.data) + size_t(offset) * dtype_size(t.dtype);
}

// Rows of D elements, `stride` apart, from element `offset` of t: as a matrix (rows, D), or
// transposed (D, rows).
GemmInput rows_of(const Tensor& t, int64_t offset, int64_t stride) { return {at(t, offset), t.dtype, stride, 1}; }
GemmInput columns_of(const Tensor& t, int64_t offset, int64_t stride) { return {at(t, offset), t.dtype, 1, stride}; }
GemmInput f32_matrix(const float* data, int64_t ld) { return {data, DType::F32, ld, 1}; }
GemmInput f32_transposed(const float* data, int64_t ld) { return {data, DType::F32, 1, ld}; }
GemmOutput rows_out(const Tensor& t, int64_t offset, int64_t stride) {
  return {const_cast<void*>(at(t, offset)), t.dtype, stride};
}

float dot(const float* x, const float* y, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// Row r of s (scores, ld apart) → probabilities over its first `keys` entries, 0 up to `width`.
// Returns the log-sum-exp.
float softmax_row(float* s, int64_t keys, int64_t width) {
  float max = -INFINITY;
  for (int64_t j = 0; j < keys; ++j) max = std::max(max, s[j]);
  float sum = 0.0f;
  for (int64_t j = 0; j < keys; ++j) sum += (s[j] = std::exp(s[j] - max));
  for (int64_t j = 0; j < keys; ++j) s[j] /= sum;
  std::fill(s + keys, s + width, 0.0f);
  return max + std::log(sum);
}

}  // namespace

void attention(const AttentionArgs& args, const ExecContext&) {
  const Layout L = layout_of(args.q, args.k);
  const float scale = args.softmax_scale();
  float* lse = args.lse.as<float>();
  const int64_t blocks = (L.tokens + kRows - 1) / kRows, q_stride = L.q_heads * L.dim, kv_stride = L.kv_heads * L.dim;
  parallel_for(L.batch * L.q_heads * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores, zeros(size_t(L.dim), 0.0f);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task / blocks, b = bh / L.q_heads, h = bh % L.q_heads, hkv = h / L.group();
      const int64_t len = valid_length(args.seq_lens, b, L.tokens);
      const int64_t i0 = task % blocks * kRows, i1 = std::min(i0 + kRows, L.tokens), rows = std::max<int64_t>(0, std::min(i1, len) - i0);
      for (int64_t i = i0 + rows; i < i1; ++i) {  // padding rows: no keys, zero output
        store_f32(zeros.data(), args.out, L.q_row(b, i, h), L.dim);
        lse[L.stat(b, h, i)] = 0.0f;
      }
      if (rows == 0) continue;
      const int64_t kend = args.causal ? i0 + rows : len;
      scores.resize(size_t(rows * kend));
      GemmEpilogue scaled;
      scaled.alpha = scale;
      gemm(rows, kend, L.dim, rows_of(args.q, L.q_row(b, i0, h), q_stride),
           columns_of(args.k, L.kv_row(b, 0, hkv), kv_stride), {scores.data(), DType::F32, kend}, scaled, false);
      for (int64_t r = 0; r < rows; ++r)
        lse[L.stat(b, h, i0 + r)] = softmax_row(scores.data() + r * kend, key_end(i0 + r, len, args.causal), kend);
      gemm(rows, L.dim, kend, f32_matrix(scores.data(), kend), rows_of(args.v, L.kv_row(b, 0, hkv), kv_stride),
           rows_out(args.out, L.q_row(b, i0, h), q_stride), {}, false);
    }
  });
}

void attention_backward(const AttentionBackwardArgs& args, const ExecContext&) {
  const Layout L = layout_of(args.q, args.k);
  const float scale = args.softmax_scale();
  const float* lse = args.lse.as<const float>();
  float* delta = args.delta.as<float>();
  const int64_t q_stride = L.q_heads * L.dim, kv_stride = L.kv_heads * L.dim;
  parallel_for(L.batch * L.kv_heads, 1, [&](int64_t begin, int64_t end) {
    const size_t D = size_t(L.dim);
    std::vector<float> dk(size_t(L.tokens) * D), dv(size_t(L.tokens) * D), probs, dprobs;
    std::vector<float> dout(D), out(D), zeros(D, 0.0f);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / L.kv_heads, hkv = bh % L.kv_heads;
      const int64_t len = valid_length(args.seq_lens, b, L.tokens);
      std::fill(dk.begin(), dk.end(), 0.0f);
      std::fill(dv.begin(), dv.end(), 0.0f);
      for (int64_t h = hkv * L.group(); h < (hkv + 1) * L.group(); ++h) {
        for (int64_t i = len; i < L.tokens; ++i) {  // padding rows: no gradient
          store_f32(zeros.data(), args.dq, L.q_row(b, i, h), L.dim);
          delta[L.stat(b, h, i)] = 0.0f;
        }
        for (int64_t i0 = 0; i0 < len; i0 += kRows) {
          const int64_t rows = std::min(kRows, len - i0), kend = args.causal ? i0 + rows : len;
          const GemmInput q = rows_of(args.q, L.q_row(b, i0, h), q_stride);
          const GemmInput d_out = rows_of(args.dout, L.q_row(b, i0, h), q_stride);
          probs.resize(size_t(rows * kend));
          dprobs.resize(size_t(rows * kend));
          // P = exp(scale·Q·Kᵀ − lse), and dP = dO·Vᵀ.
          GemmEpilogue scaled;
          scaled.alpha = scale;
          gemm(rows, kend, L.dim, q, columns_of(args.k, L.kv_row(b, 0, hkv), kv_stride), {probs.data(), DType::F32, kend},
               scaled, false);
          gemm(rows, kend, L.dim, d_out, columns_of(args.v, L.kv_row(b, 0, hkv), kv_stride),
               {dprobs.data(), DType::F32, kend}, {}, false);
          // dS = P ∘ (dP − delta), in place of dP.
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t i = i0 + r, keys = key_end(i, len, args.causal);
            load_f32(args.dout, L.q_row(b, i, h), L.dim, dout.data());
            load_f32(args.out, L.q_row(b, i, h), L.dim, out.data());
            const float row_delta = dot(dout.data(), out.data(), L.dim), row_lse = lse[L.stat(b, h, i)];
            delta[L.stat(b, h, i)] = row_delta;
            float* p = probs.data() + r * kend;
            float* ds = dprobs.data() + r * kend;
            for (int64_t j = 0; j < keys; ++j) {
              p[j] = std::exp(p[j] - row_lse);
              ds[j] = p[j] * (ds[j] - row_delta);
            }
            std::fill(p + keys, p + kend, 0.0f);
            std::fill(ds + keys, ds + kend, 0.0f);
          }
          // dQ = scale·dS·K; dK += scale·dSᵀ·Q; dV += Pᵀ·dO.
          gemm(rows, L.dim, kend, f32_matrix(dprobs.data(), kend), rows_of(args.k, L.kv_row(b, 0, hkv), kv_stride),
               rows_out(args.dq, L.q_row(b, i0, h), q_stride), scaled, false);
          GemmEpilogue accumulate;
          accumulate.beta = 1.0f;
          GemmEpilogue accumulate_scaled = accumulate;
          accumulate_scaled.alpha = scale;
          gemm(kend, L.dim, rows, f32_transposed(dprobs.data(), kend), q, {dk.data(), DType::F32, L.dim},
               accumulate_scaled, false);
          gemm(kend, L.dim, rows, f32_transposed(probs.data(), kend), d_out, {dv.data(), DType::F32, L.dim}, accumulate,
               false);
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
  // The group of query heads that share a key-value head reads its cache once:
  // S (group, len) = scale·Q·Kᵀ, softmax by row, out (group, D) = P·V.
  const int64_t batch = args.q.dim(0), q_heads = args.q.dim(1), dim = args.q.dim(2);
  const int64_t slots = args.k_cache.dim(1), kv_heads = args.k_cache.dim(2), group = q_heads / kv_heads;
  const float scale = args.softmax_scale();
  parallel_for(batch * kv_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores, zeros(size_t(dim), 0.0f);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / kv_heads, hkv = bh % kv_heads, first_row = (b * q_heads + hkv * group) * dim;
      const int64_t len = valid_length(args.cache_lens, b, slots), cache_row = (b * slots * kv_heads + hkv) * dim;
      if (len == 0) {
        for (int64_t g = 0; g < group; ++g) store_f32(zeros.data(), args.out, first_row + g * dim, dim);
        continue;
      }
      scores.resize(size_t(group * len));
      GemmEpilogue scaled;
      scaled.alpha = scale;
      gemm(group, len, dim, rows_of(args.q, first_row, dim), columns_of(args.k_cache, cache_row, kv_heads * dim),
           {scores.data(), DType::F32, len}, scaled, false);
      for (int64_t g = 0; g < group; ++g) softmax_row(scores.data() + g * len, len, len);
      gemm(group, dim, len, f32_matrix(scores.data(), len), rows_of(args.v_cache, cache_row, kv_heads * dim),
           rows_out(args.out, first_row, dim), {}, false);
    }
  });
}

}  // namespace wsi::cpu
